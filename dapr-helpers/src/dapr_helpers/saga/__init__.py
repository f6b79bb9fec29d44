"""The order saga's shared shape: its message contract (`contract`), a participant's
per-order record (`participation`) and a participant's command handler (`handler`)."""
