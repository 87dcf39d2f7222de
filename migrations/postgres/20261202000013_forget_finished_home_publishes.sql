-- A published Home view's outbox row named its person and said when they opened Home (or
-- pressed one of its buttons). Such rows are now deleted once their view is published or
-- refused; this forgets the ones an earlier version kept.
DELETE FROM outbox WHERE kind = 'publish_home' AND state NOT IN ('pending', 'sending');
