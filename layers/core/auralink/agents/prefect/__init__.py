"""Pipeline runs on Prefect: the run step's executor for pipelines (framework ``prefect``)."""
