"""The content service: tenancy (orgs, projects, keys, influencers, layers, accounts, wiring), jobs and containers."""
