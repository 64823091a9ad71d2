"""The inside of the hexagon: docfleet's rules, written with the standard library only."""
