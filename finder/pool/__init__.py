"""Staff pages for the advertiser pool: pools, advertisers and their credentials."""
