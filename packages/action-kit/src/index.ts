// Every public export of @sluice/action-kit, named (no `export *`).
