"""One screen per view, plus dialogs and the runbook viewer."""
