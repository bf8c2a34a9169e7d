"""CrewAI crews as team runs. `plan` is read by both environments; the other modules run in
CrewAI's own (CrewStepFunction's image, `.venv-crewai` locally) and never in the core layer's."""
