"""Hardware in the loop: device profiles, the digital twin, the IIO emulator and the over-the-air tools."""
