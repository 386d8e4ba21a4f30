"""Staff pages for tracking numbers: assign, move, retire and re-activate."""
