"""Commands: what changes desired state. Validated input in, one transaction's writes out —
new app versions and their deployment, kills asked for, builds requested, commands for a
build's worker. They know nothing of HTTP, so the API, the controllers (the git watcher asks
for builds) and the example content call the same functions: one implementation of every
action. They import only `domain` and `store`."""
