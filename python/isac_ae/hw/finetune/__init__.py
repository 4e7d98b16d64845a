"""Fine-tuning the learned ISAC system on a board's impairments (the over-the-air path, part 2).

Each method starts from a shipped nominal model and returns an ordinary model
file's worth of weights: ``surrogate`` (fit the differentiable impairment
model to measurements, then train through it), ``receivers`` (the receivers
on labelled SigMF captures, the transmitter frozen) and quantisation-aware
training for analog arrays. Import the method's module directly.
"""
