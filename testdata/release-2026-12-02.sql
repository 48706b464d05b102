PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE audit_schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	);
INSERT INTO audit_schema_migrations VALUES(1,1796223649250203192);
INSERT INTO audit_schema_migrations VALUES(2,1796223649250762952);
INSERT INTO audit_schema_migrations VALUES(3,1796223649250842539);
CREATE TABLE audit_events (
    seq             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL,
    tenant          TEXT    NOT NULL DEFAULT '',
    action          TEXT    NOT NULL,
    actor_type      TEXT    NOT NULL DEFAULT '',
    actor_id        TEXT    NOT NULL DEFAULT '',
    actor_name      TEXT    NOT NULL DEFAULT '',
    resource_type   TEXT    NOT NULL DEFAULT '',
    resource_id     TEXT    NOT NULL DEFAULT '',
    resource_name   TEXT    NOT NULL DEFAULT '',
    targets         TEXT,
    outcome         TEXT    NOT NULL DEFAULT 'success',
    metadata        TEXT,
    idempotency_key TEXT,
    occurred_at     INTEGER NOT NULL,
    recorded_at     INTEGER NOT NULL,
    prev_hash       BLOB,
    hash            BLOB
, hash_version INTEGER NOT NULL DEFAULT 1);
INSERT INTO audit_events VALUES(1,'06h3ehe5wjktgebcw75y71xnr4','','billing.invoice.paid','','','','project','prj_0','','[{"type":"billing_account","id":"acct_0","name":"Zoë & Co"}]','failure','{"amount":0,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}','key-0',1796115600123456789,1796223649252587509,X'0000000000000000000000000000000000000000000000000000000000000000',X'ae3973b43b3ca37b29b2ee3fde1fe6a364dbf1b516a858eb7b20c011ce13d7f8',2);
INSERT INTO audit_events VALUES(2,'06h3ehe5wptvcbg8h6tnmwba10','acme','project.deleted','user','1','Ünïcode user','project','prj_1','','[{"type":"billing_account","id":"acct_1","name":"Zoë & Co"}]','success','{"amount":100,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796115660123456789,1796223649253148581,X'ae3973b43b3ca37b29b2ee3fde1fe6a364dbf1b516a858eb7b20c011ce13d7f8',X'7f345484692bada3a229d81306be0e0c7570e42fad0b1979044134833d97cdef',2);
INSERT INTO audit_events VALUES(3,'06h3ehe5wqrt31be5r8hp4mtgw','<b>"globex"</b>','user.signed_in','user','2','Ünïcode user','project','prj_2','','[{"type":"billing_account","id":"acct_2","name":"Zoë & Co"}]','success','{"amount":200,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796115720123456789,1796223649253276456,X'7f345484692bada3a229d81306be0e0c7570e42fad0b1979044134833d97cdef',X'9913bfae15978f55261e433f820da80fce2ac8536ed3dca279d6afc82fd70e25',2);
INSERT INTO audit_events VALUES(4,'06h3ehe5wpcd0pz013jzc098wc','','doc.<script>','user','3','Ünïcode user','project','prj_3','','[{"type":"billing_account","id":"acct_0","name":"Zoë & Co"}]','success','{"amount":300,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796115780123456789,1796223649253388618,X'9913bfae15978f55261e433f820da80fce2ac8536ed3dca279d6afc82fd70e25',X'272b9674ce2707e6d4034dd92e74a2a6ff480d4d57dde6787b60183ddc042b81',2);
INSERT INTO audit_events VALUES(5,'06h3ehe5wm5sz9bw6btrpx4y2c','acme','billing.invoice.paid','user','0','Ünïcode user','project','prj_4','','[{"type":"billing_account","id":"acct_1","name":"Zoë & Co"}]','success','{"amount":400,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}','key-4',1796115840123456789,1796223649253648971,X'272b9674ce2707e6d4034dd92e74a2a6ff480d4d57dde6787b60183ddc042b81',X'b64a34333d8f541bd4e24ba34611bff3ccd09a51dc2fc646567826ec67cd69b7',2);
INSERT INTO audit_events VALUES(6,'06h3ehe5wqdgfw07cw7qbzjwmc','<b>"globex"</b>','project.deleted','user','1','Ünïcode user','project','prj_0','','[{"type":"billing_account","id":"acct_2","name":"Zoë & Co"}]','failure','{"amount":500,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796115900123456789,1796223649253783476,X'b64a34333d8f541bd4e24ba34611bff3ccd09a51dc2fc646567826ec67cd69b7',X'9d3104207ff54e8bbbffa31c7356543c857a1dacb0a104b05ec7867aaa34fcd3',2);
INSERT INTO audit_events VALUES(7,'06h3ehe5wncpkpy8j58krdn7t4','','user.signed_in','','','','project','prj_1','','[{"type":"billing_account","id":"acct_0","name":"Zoë & Co"}]','success','{"amount":600,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796115960123456789,1796223649253884410,X'9d3104207ff54e8bbbffa31c7356543c857a1dacb0a104b05ec7867aaa34fcd3',X'7b193deb59751ac5e79211319e24e40062d5581d7d863c402699ab1a25b8bafb',2);
INSERT INTO audit_events VALUES(8,'06h3ehe5wm3t9vg9dw5rf9h9q8','acme','doc.<script>','user','3','Ünïcode user','project','prj_2','','[{"type":"billing_account","id":"acct_1","name":"Zoë & Co"}]','success','{"amount":700,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796116020123456789,1796223649254000930,X'7b193deb59751ac5e79211319e24e40062d5581d7d863c402699ab1a25b8bafb',X'722bd8d2d8432cb2aced65d450ae8804be439f7acc0ce166b21b96f4807332c8',2);
INSERT INTO audit_events VALUES(9,'06h3ehe5wrc75kfqxr6m13etm0','<b>"globex"</b>','billing.invoice.paid','user','0','Ünïcode user','project','prj_3','','[{"type":"billing_account","id":"acct_2","name":"Zoë & Co"}]','success','{"amount":800,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}','key-8',1796116080123456789,1796223649254094276,X'722bd8d2d8432cb2aced65d450ae8804be439f7acc0ce166b21b96f4807332c8',X'e08165a6275537b2870de4d40ea8c452291e06b11b325b9da98b6386cb19d7c4',2);
INSERT INTO audit_events VALUES(10,'06h3ehe5wr84fc4sqm9avgp0d4','','project.deleted','user','1','Ünïcode user','project','prj_4','','[{"type":"billing_account","id":"acct_0","name":"Zoë & Co"}]','success','{"amount":900,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796116140123456789,1796223649254200366,X'e08165a6275537b2870de4d40ea8c452291e06b11b325b9da98b6386cb19d7c4',X'251ea9683c914d7202bcb5189b0927a4a4af8fea544d76548556d46a8473a294',2);
INSERT INTO audit_events VALUES(11,'06h3ehe5wt4fdxy3ap7p8wr4xm','acme','user.signed_in','user','2','Ünïcode user','project','prj_0','','[{"type":"billing_account","id":"acct_1","name":"Zoë & Co"}]','failure','{"amount":1000,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796116200123456789,1796223649254352583,X'251ea9683c914d7202bcb5189b0927a4a4af8fea544d76548556d46a8473a294',X'845bbbb449095ff5257ed3c592f62e5b1588df49c8a1fd02230fd93a65ca6848',2);
INSERT INTO audit_events VALUES(12,'06h3ehe5wtad2pmr9f3pv7py14','<b>"globex"</b>','doc.<script>','user','3','Ünïcode user','project','prj_1','','[{"type":"billing_account","id":"acct_2","name":"Zoë & Co"}]','success','{"amount":1100,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796116260123456789,1796223649254449802,X'845bbbb449095ff5257ed3c592f62e5b1588df49c8a1fd02230fd93a65ca6848',X'5b63ce5cd02ff67cb8b0a1fcabccb7584408ef4e386c7bcfaedeb97526e53842',2);
INSERT INTO audit_events VALUES(13,'06h3ehe5wvxrvfgvxdbqmb0ham','','billing.invoice.paid','','','','project','prj_2','','[{"type":"billing_account","id":"acct_0","name":"Zoë & Co"}]','success','{"amount":1200,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}','key-12',1796116320123456789,1796223649254544693,X'5b63ce5cd02ff67cb8b0a1fcabccb7584408ef4e386c7bcfaedeb97526e53842',X'bab88de9d99921ca6ff001f019b4aa47e0b2ebafd16d3ae599f46bc359199e8a',2);
INSERT INTO audit_events VALUES(14,'06h3ehe5wty33wvk0htahehsg4','acme','project.deleted','user','1','Ünïcode user','project','prj_3','','[{"type":"billing_account","id":"acct_1","name":"Zoë & Co"}]','success','{"amount":1300,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796116380123456789,1796223649254648571,X'bab88de9d99921ca6ff001f019b4aa47e0b2ebafd16d3ae599f46bc359199e8a',X'56a09d8aaf66331db51234a7d6a5bcd916bef81af7ffb614dc4e0f85d5bc0ee2',2);
INSERT INTO audit_events VALUES(15,'06h3ehe5wsrdxcv66qmsn9g1q0','<b>"globex"</b>','user.signed_in','user','2','Ünïcode user','project','prj_4','','[{"type":"billing_account","id":"acct_2","name":"Zoë & Co"}]','success','{"amount":1400,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796116440123456789,1796223649254740735,X'56a09d8aaf66331db51234a7d6a5bcd916bef81af7ffb614dc4e0f85d5bc0ee2',X'ae3794d8a39c03a00de9fea24d4ba261de0882737974dfc49800969913bd4de2',2);
INSERT INTO audit_events VALUES(16,'06h3ehe5wssk8a95rc0a24ma74','','doc.<script>','user','3','Ünïcode user','project','prj_0','','[{"type":"billing_account","id":"acct_0","name":"Zoë & Co"}]','failure','{"amount":1500,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796116500123456789,1796223649254830468,X'ae3794d8a39c03a00de9fea24d4ba261de0882737974dfc49800969913bd4de2',X'5e9fc8a5278d9903f6c32f50fe7adc09fd5688338187b9b4e6fe10202fcf410c',2);
INSERT INTO audit_events VALUES(17,'06h3ehe5ws0wtyjhjqdn7p92b8','acme','billing.invoice.paid','user','0','Ünïcode user','project','prj_1','','[{"type":"billing_account","id":"acct_1","name":"Zoë & Co"}]','success','{"amount":1600,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}','key-16',1796116560123456789,1796223649254904861,X'5e9fc8a5278d9903f6c32f50fe7adc09fd5688338187b9b4e6fe10202fcf410c',X'0fbc027da75d2fd75dbf7ee83ceaa28fee3fd8a7bcb2fdac09d66490995cf050',2);
INSERT INTO audit_events VALUES(18,'06h3ehe5wtrda0vjjrp0g3pfzg','<b>"globex"</b>','project.deleted','user','1','Ünïcode user','project','prj_2','','[{"type":"billing_account","id":"acct_2","name":"Zoë & Co"}]','success','{"amount":1700,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796116620123456789,1796223649254996862,X'0fbc027da75d2fd75dbf7ee83ceaa28fee3fd8a7bcb2fdac09d66490995cf050',X'8d752aaad4e466e0208341f4729fefbf1089293c13a32394e05616c571562f15',2);
INSERT INTO audit_events VALUES(19,'06h3ehe5wyq9vqzer0g3pjhxd4','','user.signed_in','','','','project','prj_3','','[{"type":"billing_account","id":"acct_0","name":"Zoë & Co"}]','success','{"amount":1800,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796116680123456789,1796223649255076482,X'8d752aaad4e466e0208341f4729fefbf1089293c13a32394e05616c571562f15',X'ff04fe4e9f0b95ef90a7b1ea60d35fec58da0fabf99ef88c2fb1f180deaf3190',2);
INSERT INTO audit_events VALUES(20,'06h3ehe5wxjnzt9b50v55v8r9c','acme','doc.<script>','user','3','Ünïcode user','project','prj_4','','[{"type":"billing_account","id":"acct_1","name":"Zoë & Co"}]','success','{"amount":1900,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796116740123456789,1796223649255147703,X'ff04fe4e9f0b95ef90a7b1ea60d35fec58da0fabf99ef88c2fb1f180deaf3190',X'6ce4a2c0d7781c5d57c8bd507f065d14ef7f65c60fb15024b2e0c5bdf103ec0f',2);
INSERT INTO audit_events VALUES(21,'06h3ehe5wxad9za39qrdwwpe24','<b>"globex"</b>','billing.invoice.paid','user','0','Ünïcode user','project','prj_0','','[{"type":"billing_account","id":"acct_2","name":"Zoë & Co"}]','failure','{"amount":2000,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}','key-20',1796116800123456789,1796223649255223688,X'6ce4a2c0d7781c5d57c8bd507f065d14ef7f65c60fb15024b2e0c5bdf103ec0f',X'7498578d03ba4679043235477af142f5c8cb10b98c023c3a78be6d464e49728d',2);
INSERT INTO audit_events VALUES(22,'06h3ehe5wxxr7j91pehvd6dcrr','','project.deleted','user','1','Ünïcode user','project','prj_1','','[{"type":"billing_account","id":"acct_0","name":"Zoë & Co"}]','success','{"amount":2100,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796116860123456789,1796223649255307022,X'7498578d03ba4679043235477af142f5c8cb10b98c023c3a78be6d464e49728d',X'1a3b92b2e056f25bfa74ff438cdc8b8a06fdfb0aba9127cce68eda39df93248f',2);
INSERT INTO audit_events VALUES(23,'06h3ehe5wyc9trn5xhgzd6vv30','acme','user.signed_in','user','2','Ünïcode user','project','prj_2','','[{"type":"billing_account","id":"acct_1","name":"Zoë & Co"}]','success','{"amount":2200,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796116920123456789,1796223649255382949,X'1a3b92b2e056f25bfa74ff438cdc8b8a06fdfb0aba9127cce68eda39df93248f',X'eccf69ba92409fd40b174825bcaef25508551941cd1d322f0abe18bae29c7536',2);
INSERT INTO audit_events VALUES(24,'06h3ehe5wyv8r8r3h0f3fpe284','<b>"globex"</b>','doc.<script>','user','3','Ünïcode user','project','prj_3','','[{"type":"billing_account","id":"acct_2","name":"Zoë & Co"}]','success','{"amount":2300,"nested":{"k":[1.5,null,true]},"note":"line\nbreak\t<&>\u2028"}',NULL,1796116980123456789,1796223649255452123,X'eccf69ba92409fd40b174825bcaef25508551941cd1d322f0abe18bae29c7536',X'8b71765f4c0ba9e70db4fb0bcfa0b53ca4ad8a884bdcb946f10323d1916518fb',2);
CREATE TABLE audit_counts (
    tenant TEXT    NOT NULL,
    kind   TEXT    NOT NULL,
    key    TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (tenant, kind, key)
) WITHOUT ROWID;
INSERT INTO audit_counts VALUES('','action','billing.invoice.paid',2);
INSERT INTO audit_counts VALUES('','action','doc.<script>',2);
INSERT INTO audit_counts VALUES('','action','project.deleted',2);
INSERT INTO audit_counts VALUES('','action','user.signed_in',2);
INSERT INTO audit_counts VALUES('','actor','',4);
INSERT INTO audit_counts VALUES('','actor','1',2);
INSERT INTO audit_counts VALUES('','actor','3',2);
INSERT INTO audit_counts VALUES('','resource','prj_0',2);
INSERT INTO audit_counts VALUES('','resource','prj_1',2);
INSERT INTO audit_counts VALUES('','resource','prj_2',1);
INSERT INTO audit_counts VALUES('','resource','prj_3',2);
INSERT INTO audit_counts VALUES('','resource','prj_4',1);
INSERT INTO audit_counts VALUES('','total','',8);
INSERT INTO audit_counts VALUES('<b>"globex"</b>','action','billing.invoice.paid',2);
INSERT INTO audit_counts VALUES('<b>"globex"</b>','action','doc.<script>',2);
INSERT INTO audit_counts VALUES('<b>"globex"</b>','action','project.deleted',2);
INSERT INTO audit_counts VALUES('<b>"globex"</b>','action','user.signed_in',2);
INSERT INTO audit_counts VALUES('<b>"globex"</b>','actor','0',2);
INSERT INTO audit_counts VALUES('<b>"globex"</b>','actor','1',2);
INSERT INTO audit_counts VALUES('<b>"globex"</b>','actor','2',2);
INSERT INTO audit_counts VALUES('<b>"globex"</b>','actor','3',2);
INSERT INTO audit_counts VALUES('<b>"globex"</b>','resource','prj_0',2);
INSERT INTO audit_counts VALUES('<b>"globex"</b>','resource','prj_1',1);
INSERT INTO audit_counts VALUES('<b>"globex"</b>','resource','prj_2',2);
INSERT INTO audit_counts VALUES('<b>"globex"</b>','resource','prj_3',2);
INSERT INTO audit_counts VALUES('<b>"globex"</b>','resource','prj_4',1);
INSERT INTO audit_counts VALUES('<b>"globex"</b>','total','',8);
INSERT INTO audit_counts VALUES('acme','action','billing.invoice.paid',2);
INSERT INTO audit_counts VALUES('acme','action','doc.<script>',2);
INSERT INTO audit_counts VALUES('acme','action','project.deleted',2);
INSERT INTO audit_counts VALUES('acme','action','user.signed_in',2);
INSERT INTO audit_counts VALUES('acme','actor','0',2);
INSERT INTO audit_counts VALUES('acme','actor','1',2);
INSERT INTO audit_counts VALUES('acme','actor','2',2);
INSERT INTO audit_counts VALUES('acme','actor','3',2);
INSERT INTO audit_counts VALUES('acme','resource','prj_0',1);
INSERT INTO audit_counts VALUES('acme','resource','prj_1',2);
INSERT INTO audit_counts VALUES('acme','resource','prj_2',2);
INSERT INTO audit_counts VALUES('acme','resource','prj_3',1);
INSERT INTO audit_counts VALUES('acme','resource','prj_4',2);
INSERT INTO audit_counts VALUES('acme','total','',8);
CREATE TABLE audit_action_terms (
    tenant TEXT    NOT NULL,
    term   TEXT    NOT NULL,
    action TEXT    NOT NULL,
    seg    INTEGER NOT NULL,
    PRIMARY KEY (tenant, term, action)
) WITHOUT ROWID;
INSERT INTO audit_action_terms VALUES('','<script>','doc.<script>',1);
INSERT INTO audit_action_terms VALUES('<b>"globex"</b>','<script>','doc.<script>',1);
INSERT INTO audit_action_terms VALUES('acme','<script>','doc.<script>',1);
INSERT INTO audit_action_terms VALUES('','billing.invoice.paid','billing.invoice.paid',0);
INSERT INTO audit_action_terms VALUES('<b>"globex"</b>','billing.invoice.paid','billing.invoice.paid',0);
INSERT INTO audit_action_terms VALUES('acme','billing.invoice.paid','billing.invoice.paid',0);
INSERT INTO audit_action_terms VALUES('','deleted','project.deleted',1);
INSERT INTO audit_action_terms VALUES('<b>"globex"</b>','deleted','project.deleted',1);
INSERT INTO audit_action_terms VALUES('acme','deleted','project.deleted',1);
INSERT INTO audit_action_terms VALUES('','doc.<script>','doc.<script>',0);
INSERT INTO audit_action_terms VALUES('<b>"globex"</b>','doc.<script>','doc.<script>',0);
INSERT INTO audit_action_terms VALUES('acme','doc.<script>','doc.<script>',0);
INSERT INTO audit_action_terms VALUES('','invoice.paid','billing.invoice.paid',1);
INSERT INTO audit_action_terms VALUES('<b>"globex"</b>','invoice.paid','billing.invoice.paid',1);
INSERT INTO audit_action_terms VALUES('acme','invoice.paid','billing.invoice.paid',1);
INSERT INTO audit_action_terms VALUES('','paid','billing.invoice.paid',2);
INSERT INTO audit_action_terms VALUES('<b>"globex"</b>','paid','billing.invoice.paid',2);
INSERT INTO audit_action_terms VALUES('acme','paid','billing.invoice.paid',2);
INSERT INTO audit_action_terms VALUES('','project.deleted','project.deleted',0);
INSERT INTO audit_action_terms VALUES('<b>"globex"</b>','project.deleted','project.deleted',0);
INSERT INTO audit_action_terms VALUES('acme','project.deleted','project.deleted',0);
INSERT INTO audit_action_terms VALUES('','signed_in','user.signed_in',1);
INSERT INTO audit_action_terms VALUES('<b>"globex"</b>','signed_in','user.signed_in',1);
INSERT INTO audit_action_terms VALUES('acme','signed_in','user.signed_in',1);
INSERT INTO audit_action_terms VALUES('','user.signed_in','user.signed_in',0);
INSERT INTO audit_action_terms VALUES('<b>"globex"</b>','user.signed_in','user.signed_in',0);
INSERT INTO audit_action_terms VALUES('acme','user.signed_in','user.signed_in',0);
CREATE INDEX audit_events_id ON audit_events (id);
CREATE INDEX audit_events_idempotency
    ON audit_events (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX audit_events_tenant   ON audit_events (tenant);
CREATE INDEX audit_events_action   ON audit_events (tenant, action);
CREATE INDEX audit_events_actor    ON audit_events (tenant, actor_id);
CREATE INDEX audit_events_resource ON audit_events (tenant, resource_id);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is not allowed');
END;
CREATE VIEW audit_events_view AS
SELECT seq, id, tenant, action,
       actor_type, actor_id, actor_name,
       resource_type, resource_id, resource_name,
       targets, outcome, metadata, idempotency_key,
       strftime('%Y-%m-%dT%H:%M:%fZ', occurred_at / 1000000000.0, 'unixepoch') AS occurred_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', recorded_at / 1000000000.0, 'unixepoch') AS recorded_at,
       hex(hash) AS hash
FROM audit_events;
CREATE TRIGGER audit_events_insert BEFORE INSERT ON audit_events
WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit_events)
  OR typeof(NEW.id) != 'text' OR typeof(NEW.tenant) != 'text' OR typeof(NEW.action) != 'text'
  OR typeof(NEW.actor_type) != 'text' OR typeof(NEW.actor_id) != 'text' OR typeof(NEW.actor_name) != 'text'
  OR typeof(NEW.resource_type) != 'text' OR typeof(NEW.resource_id) != 'text' OR typeof(NEW.resource_name) != 'text'
  OR typeof(NEW.outcome) != 'text'
  OR typeof(NEW.targets) NOT IN ('null', 'text') OR NEW.targets = ''
  OR typeof(NEW.metadata) NOT IN ('null', 'text') OR NEW.metadata = ''
  OR typeof(NEW.idempotency_key) NOT IN ('null', 'text') OR NEW.idempotency_key = ''
  OR typeof(NEW.occurred_at) != 'integer' OR typeof(NEW.recorded_at) != 'integer'
  OR typeof(NEW.prev_hash) != 'blob' OR typeof(NEW.hash) != 'blob'
  OR typeof(NEW.hash_version) != 'integer'
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: an insert must take the next seq')
    WHERE NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit_events);
    SELECT RAISE(ABORT, 'audit_events: a column is not in the form the library writes (storage class, or an empty string for NULL)');
END;
CREATE INDEX audit_counts_key ON audit_counts (kind, key) WHERE tenant <> '';
CREATE INDEX audit_action_terms_term ON audit_action_terms (term, action, seg);
COMMIT;
