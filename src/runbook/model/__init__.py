"""The pure domain: notebooks, parameters, plans, reviews. No I/O beyond files handed in."""
