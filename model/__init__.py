"""Domain computation: plans, validation, fitting, costs, funding rules, displacement."""
