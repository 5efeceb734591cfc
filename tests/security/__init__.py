"""Security boundaries across layers: secrets, receipts, hostile input."""
