"""Re-driving recorded sessions against a node and comparing what it answers."""
