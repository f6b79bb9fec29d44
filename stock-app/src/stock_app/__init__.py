"""Stock service: products and the saga steps `reserve` / `release`."""
