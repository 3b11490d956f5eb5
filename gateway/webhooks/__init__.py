"""Webhooks both ways: Partner Center's events in (``inbound``: they wake the operations waiting
on what they name), and the gateway's own operation events out to each marketplace (``outbox``:
what is written with each change of state; ``delivery``: the loop that sends, signs and
retries; ``endpoints``: where each marketplace wants them)."""
