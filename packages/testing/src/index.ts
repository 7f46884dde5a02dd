// Every public export of @sluice/testing, named (no `export *`).

// test bed: endpoints and isolated AWS "accounts" (owned by the test-bed work)

// fakes of core's own interfaces (owned by the adapters work)
