"""CA writes, one module per subject: challenges, their SMS, issuance, revocation, CRLs,
certificates issued under other trusted roots, and the PASSporT replay record.

Each public function is one state change and the only place it happens. Changes that the log
records append their entry in the same transaction (transparency.services.log_append), last,
so the change and its entry commit or roll back together. A service that a view, a task or the
admin calls as the outermost transaction opens a durable one: when it returns, it has
committed. Work that leaves the process (SMS) is queued on commit; the tasks call these
services, so services queue tasks by name and never import ``ca.tasks``.
"""
