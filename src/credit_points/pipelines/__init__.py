"""Jobs that compose the domain packages and the adapters: generate, train, evaluate, promote, score, report, demo."""
