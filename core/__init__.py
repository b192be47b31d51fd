"""The bottom of the house: helpers every layer may use; it imports nothing of the project."""
