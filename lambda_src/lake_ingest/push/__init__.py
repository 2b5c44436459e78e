"""Push (webhook) sources: the signed-request ingress and the queue writer."""
