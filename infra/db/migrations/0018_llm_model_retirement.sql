-- Models retire. `retired` is set by the data file of models for a model its provider has
-- withdrawn; `retires_on` is the provider's shutdown date from the prices dataset, after which the
-- model is retired without any change here; `successor` is the model to use instead.
-- A retired model stays in the table so that a request naming it (a stored default model, a saved
-- workflow) is refused by name with its successor; one that the dataset no longer lists has no
-- price or context window any more, which only a retired model may lack.
ALTER TABLE llm_models
    ADD COLUMN retired boolean NOT NULL DEFAULT false,
    ADD COLUMN retires_on date,
    ADD COLUMN successor text
        CHECK (successor ~ '^[a-z0-9][a-z0-9-]{0,62}/[A-Za-z0-9._:/-]{1,200}$'),
    ALTER COLUMN context_window DROP NOT NULL,
    ALTER COLUMN input_price_per_mtok DROP NOT NULL,
    ALTER COLUMN output_price_per_mtok DROP NOT NULL,
    ADD CONSTRAINT llm_models_priced_unless_retired CHECK (
        retired
        OR (context_window IS NOT NULL
            AND input_price_per_mtok IS NOT NULL
            AND output_price_per_mtok IS NOT NULL)
    );
