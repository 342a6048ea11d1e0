"""Exchange between party nodes: delivery, receipts, signed requests, sync."""
