"""Where the pairing state lives: `PairingStore` and its implementations."""
