"""Call routing: tracking numbers, the helpline advertiser pool, and the decision for every call."""
