"""Push (webhook) sources: the ingress verifies and queues each event; the writer lands queued batches."""
