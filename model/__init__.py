"""Domain computation: plans, validation, costs, funding rules, the displacement simulation."""
