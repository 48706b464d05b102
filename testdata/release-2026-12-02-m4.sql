PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE audit_schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	);
INSERT INTO audit_schema_migrations VALUES(1,1796255572281075726);
INSERT INTO audit_schema_migrations VALUES(2,1796255572281670384);
INSERT INTO audit_schema_migrations VALUES(3,1796255572281834849);
INSERT INTO audit_schema_migrations VALUES(4,1796255572283239475);
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
, hash_version INTEGER NOT NULL DEFAULT 1, origin_ip TEXT, origin_user_agent TEXT, origin_request_id TEXT);
INSERT INTO audit_events VALUES(1,'06h3jb717psbtwen29s53q7y1w','','login','user','u1','Alice','project','prj_1','Apollo',NULL,'success','{"note":"naïve café"}','key-0',1796029200123456789,1796255572285905183,X'0000000000000000000000000000000000000000000000000000000000000000',X'02d88170aad339593acfe43dd4424888002600ae183c2a4680486df984fe58f5',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(2,'06h3jb717v1der0r9q5bvkk9kg','acme','login','user','u2','Bob','doc','doc_1','Résumé.pdf','[{"type":"billing_account","id":"doc_1","name":"Zoë & Co"}]','success',NULL,NULL,1796029260123456789,1796255572286708752,X'02d88170aad339593acfe43dd4424888002600ae183c2a4680486df984fe58f5',X'09d707a45047ffed0dad0800b4f6cbb16bea0bd4c839af07aff904b4cf2c0674',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(3,'06h3jb717zvwsshpvembqx7z5c','globex','login','service','svc_billing','Zoë & Co billing','project','prj_3','Zoë & Co','[{"type":"billing_account","id":"acct_2","name":"Zoë & Co"},{"type":"project","id":"prj_1","name":"Apollo"}]','success',NULL,NULL,1796029320123456789,1796255572287055880,X'09d707a45047ffed0dad0800b4f6cbb16bea0bd4c839af07aff904b4cf2c0674',X'7ff18dd6242daff827ccf53f356fde186a561a183f67838eb7920a53beb67f67',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(4,'06h3jb7180hegnfr06h12bz9nr','','project.create','bot','u1','Deploy bot','doc','doc_2','Plan',NULL,'failure','{"reason":"denied"}',NULL,1796029380123456789,1796255572288860453,X'7ff18dd6242daff827ccf53f356fde186a561a183f67838eb7920a53beb67f67',X'55b18dbbd43b763749b3e4728dce0a7c8f0fee40398648e6261ea71bc47b0887',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(5,'06h3jb71856drwgtktasdpv4bw','acme','project.create','','','','project','prj_2','Projekt Über',NULL,'success',NULL,NULL,1796029440123456789,1796255572289215673,X'55b18dbbd43b763749b3e4728dce0a7c8f0fee40398648e6261ea71bc47b0887',X'96e65500ff7f7272217ca8bfb9b8569240aa355791a6cad9bd6fb4ca3fe5212d',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(6,'06h3jb718676n40psw027pp0jg','globex','project.create','user','u1','Alice','doc','prj_1','Notes on prj_1','[{"type":"billing_account","id":"prj_1","name":"Zoë & Co"}]','success',NULL,NULL,1796029500123456789,1796255572289508290,X'96e65500ff7f7272217ca8bfb9b8569240aa355791a6cad9bd6fb4ca3fe5212d',X'eec435530685f39bad762d79cd3f0c9cfafdf78cb56f6921cddf55bc7159728d',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(7,'06h3jb7184chgczr15t1v808a0','','doc.read','user','u2','Bob','project','prj_1','Apollo','[{"type":"billing_account","id":"acct_0","name":"Zoë & Co"},{"type":"project","id":"prj_2","name":"Projekt Über"}]','success',NULL,NULL,1796029560123456789,1796255572289870150,X'eec435530685f39bad762d79cd3f0c9cfafdf78cb56f6921cddf55bc7159728d',X'1da1c5477cc7294c79b085ac504a9c1c6d058aa3f3d4bf0b68589ed34089e6cc',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(8,'06h3jb7189m9043xz90e4cxwvr','acme','doc.read','service','svc_billing','Zoë & Co billing','doc','doc_1','Résumé.pdf',NULL,'success',NULL,NULL,1796029620123456789,1796255572290134034,X'1da1c5477cc7294c79b085ac504a9c1c6d058aa3f3d4bf0b68589ed34089e6cc',X'5baac79274d577f8b997bf5f59ae370c5361afe408cabf764b198bac8cf2c262',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(9,'06h3jb7189y6wsne91bfy0dhgm','globex','doc.read','bot','u1','Deploy bot','project','prj_3','Zoë & Co',NULL,'success',NULL,NULL,1796029680123456789,1796255572290346511,X'5baac79274d577f8b997bf5f59ae370c5361afe408cabf764b198bac8cf2c262',X'1063a1b5b6b75678d053821aae7c37cec195d49f241b1507d34e862255551fb6',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(10,'06h3jb718aygnrvemt64c7ae7m','','doc.edit','user','u3','Søren Ødegård','doc','doc_2','Plan','[{"type":"billing_account","id":"doc_2","name":"Zoë & Co"}]','success','{"note":"naïve café"}','key-9',1796029740123456789,1796255572290569283,X'1063a1b5b6b75678d053821aae7c37cec195d49f241b1507d34e862255551fb6',X'1ec52ae7a069c65e30af9e9d9fb9a95f67bfb24393a8b57e8da34e1668df0316',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(11,'06h3jb71894rmxb45qp1705z64','acme','doc.edit','user','u1','Alice','project','prj_2','Projekt Über','[{"type":"billing_account","id":"acct_1","name":"Zoë & Co"},{"type":"project","id":"prj_3","name":"Zoë & Co"}]','failure','{"reason":"denied"}',NULL,1796029800123456789,1796255572290839446,X'1ec52ae7a069c65e30af9e9d9fb9a95f67bfb24393a8b57e8da34e1668df0316',X'3f33cfdc450393b3ded3a09e2211234cece68e4ee3e0a9b3163d8ca9acd85090',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(12,'06h3jb718c12130nkmxyj05qqc','globex','doc.edit','user','u2','Bob','doc','prj_1','Notes on prj_1',NULL,'success',NULL,NULL,1796029860123456789,1796255572292173758,X'3f33cfdc450393b3ded3a09e2211234cece68e4ee3e0a9b3163d8ca9acd85090',X'c47e337b3bbee201fd9a65cefb6c93f90a1e8efa9e22b431255d4233aaaf6e13',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(13,'06h3jb718g9jegx9n2qw3k4yf8','','billing.invoice.paid','service','svc_billing','Zoë & Co billing','project','prj_1','Apollo',NULL,'success',NULL,NULL,1796029920123456789,1796255572292540134,X'c47e337b3bbee201fd9a65cefb6c93f90a1e8efa9e22b431255d4233aaaf6e13',X'351d757cda98148f7f58b871731993a63d97b9e3ffc417007deb400d65fc7839',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(14,'06h3jb718hs6k00qb99f8ed0sg','acme','billing.invoice.paid','bot','u1','Deploy bot','doc','doc_1','Résumé.pdf','[{"type":"billing_account","id":"doc_1","name":"Zoë & Co"}]','success',NULL,NULL,1796029980123456789,1796255572292760213,X'351d757cda98148f7f58b871731993a63d97b9e3ffc417007deb400d65fc7839',X'464fb63447c8fac254b1237f3ae78efe024b2be98ff8c2808fe0ce4ef6add7ae',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(15,'06h3jb718km4p2qthjzej14sdg','globex','billing.invoice.paid','','','','project','prj_3','Zoë & Co','[{"type":"billing_account","id":"acct_2","name":"Zoë & Co"},{"type":"project","id":"prj_1","name":"Apollo"}]','success',NULL,NULL,1796030040123456789,1796255572293004247,X'464fb63447c8fac254b1237f3ae78efe024b2be98ff8c2808fe0ce4ef6add7ae',X'0267223d662f07f2c8ace87f45da399704f97b96323c8cbe84fa6a5d80666c07',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(16,'06h3jb718nmwt2pec7sc6q2chc','','member.invite','user','u1','Alice','doc','doc_2','Plan',NULL,'success',NULL,NULL,1796030100123456789,1796255572293264415,X'0267223d662f07f2c8ace87f45da399704f97b96323c8cbe84fa6a5d80666c07',X'10dde9e137b1a93e998f9f9d5dc45b858f64d34b06f73e3b9ed35ce8f38bc87d',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(17,'06h3jb718nfb65ym4j2hdatrcc','acme','member.invite','user','u2','Bob','project','prj_2','Projekt Über',NULL,'success',NULL,NULL,1796030160123456789,1796255572293415631,X'10dde9e137b1a93e998f9f9d5dc45b858f64d34b06f73e3b9ed35ce8f38bc87d',X'5996bbac541f7405a40314ef2d2145935e7dd39632b1284bec8e8806e0de4827',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(18,'06h3jb718mnzsk0mx6w6bdjefg','globex','member.invite','service','svc_billing','Zoë & Co billing','doc','prj_1','Notes on prj_1','[{"type":"billing_account","id":"prj_1","name":"Zoë & Co"}]','failure','{"reason":"denied"}',NULL,1796030220123456789,1796255572293649950,X'5996bbac541f7405a40314ef2d2145935e7dd39632b1284bec8e8806e0de4827',X'031855315963b7fc9f48a2fa5fcb4179d21fb3762113c4180707503626a76b6b',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(19,'06h3jb718r9nke7mqa5zvda7t0','','login','bot','u1','Deploy bot','project','prj_1','Apollo','[{"type":"billing_account","id":"acct_0","name":"Zoë & Co"},{"type":"project","id":"prj_2","name":"Projekt Über"}]','success','{"note":"naïve café"}','key-18',1796030280123456789,1796255572294140743,X'031855315963b7fc9f48a2fa5fcb4179d21fb3762113c4180707503626a76b6b',X'3b60102e32ffb1cc6572d5b56f566a4261623f42dc17907544f35f9f0b433ccf',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(20,'06h3jb718z18eqpd4yktgv67rw','acme','login','user','u3','Søren Ødegård','doc','doc_1','Résumé.pdf',NULL,'success',NULL,NULL,1796030340123456789,1796255572295181957,X'3b60102e32ffb1cc6572d5b56f566a4261623f42dc17907544f35f9f0b433ccf',X'db87cd3cadc9be2983b30311e838486418c8ade59230b9cbac5d3a3052e213be',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(21,'06h3jb718zcg7tzmgg98ygm25c','globex','login','user','u1','Alice','project','prj_3','Zoë & Co',NULL,'success',NULL,NULL,1796030400123456789,1796255572295478629,X'db87cd3cadc9be2983b30311e838486418c8ade59230b9cbac5d3a3052e213be',X'be9f4bf8648523c1a673eebea0f731ad208a577379dd75b470604806859a233c',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(22,'06h3jb718wn0wjdp4zsqpwc180','','project.create','user','u2','Robert','doc','doc_2','Plan','[{"type":"billing_account","id":"doc_2","name":"Zoë & Co"}]','success',NULL,NULL,1796030460123456789,1796255572295863023,X'be9f4bf8648523c1a673eebea0f731ad208a577379dd75b470604806859a233c',X'ae416d66a710395c81db9b83c3df1a45c37d9b07157f050e6751e5bc3b1fc284',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(23,'06h3jb7192c864324md2rt8v5c','acme','project.create','service','svc_billing','Zoë & Co billing','project','prj_2','Projekt Über','[{"type":"billing_account","id":"acct_1","name":"Zoë & Co"},{"type":"project","id":"prj_3","name":"Zoë & Co"}]','success',NULL,NULL,1796030520123456789,1796255572296075370,X'ae416d66a710395c81db9b83c3df1a45c37d9b07157f050e6751e5bc3b1fc284',X'025fe853ee8b796b9ee27cfb8ff607b5a8bcd29a1064da11e95bd91085b7a19d',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(24,'06h3jb719448ynh705kskmetk4','globex','project.create','bot','u1','Deploy bot','doc','prj_1','Notes on prj_1',NULL,'success',NULL,NULL,1796030580123456789,1796255572297211996,X'025fe853ee8b796b9ee27cfb8ff607b5a8bcd29a1064da11e95bd91085b7a19d',X'56eefd297b676527d6eff289dd0b37e89427b94c6d1735ac5c347235a236494b',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(25,'06h3jb71945pq0d1vgw5538gk4','','doc.read','','','','project','prj_1','Apollo',NULL,'failure','{"reason":"denied"}',NULL,1796030640123456789,1796255572297370012,X'56eefd297b676527d6eff289dd0b37e89427b94c6d1735ac5c347235a236494b',X'33c6f0caa539d08b46831026392afaf3f6549368072f122c590c89b9b412e60b',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(26,'06h3jb7196799mrmtq73ym99kg','acme','doc.read','user','u1','Alice','doc','doc_1','Résumé.pdf','[{"type":"billing_account","id":"doc_1","name":"Zoë & Co"}]','success',NULL,NULL,1796030700123456789,1796255572297526886,X'33c6f0caa539d08b46831026392afaf3f6549368072f122c590c89b9b412e60b',X'b71c11f4d0c0a777fd1f7b149a158eb4abae02ea442fc227881ce16e12594ac5',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(27,'06h3jb7197tnhsen475fb5em0g','globex','doc.read','user','u2','Robert','project','prj_3','Zoë & Co','[{"type":"billing_account","id":"acct_2","name":"Zoë & Co"},{"type":"project","id":"prj_1","name":"Apollo"}]','success',NULL,NULL,1796030760123456789,1796255572297766423,X'b71c11f4d0c0a777fd1f7b149a158eb4abae02ea442fc227881ce16e12594ac5',X'3b13d95c9f414b2670471230ca927faaeff9b3dfc5ccb127b2c58ccef5c8dcc2',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(28,'06h3jb7194waa0hze4vh62gn3g','','doc.edit','service','svc_billing','Zoë & Co billing','doc','doc_2','Plan',NULL,'success','{"note":"naïve café"}','key-27',1796030820123456789,1796255572298008465,X'3b13d95c9f414b2670471230ca927faaeff9b3dfc5ccb127b2c58ccef5c8dcc2',X'8add8eac475280b99bb072797ffa8cf763a43567cc7bfb2010c123c094b373ce',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(29,'06h3jb7199hmwjxzadzmc94fqw','acme','doc.edit','bot','u1','Deploy bot','project','prj_2','Projekt Über',NULL,'success',NULL,NULL,1796030880123456789,1796255572298167011,X'8add8eac475280b99bb072797ffa8cf763a43567cc7bfb2010c123c094b373ce',X'edbc7b2e86da33d4fd632add5dad11412aa5af2a64937b0adc83494e1c126458',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(30,'06h3jb7199mrhyrs42kv2gbefm','globex','doc.edit','user','u3','Søren Ødegård','doc','prj_1','Notes on prj_1','[{"type":"billing_account","id":"prj_1","name":"Zoë & Co"}]','success',NULL,NULL,1796030940123456789,1796255572298320530,X'edbc7b2e86da33d4fd632add5dad11412aa5af2a64937b0adc83494e1c126458',X'3b3f51fb3a3aa67e68e370698bd456b96f99302779d0fca2ecd65da1ea1ee3df',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(31,'06h3jb7198kkz9xrwwxrnfex60','','billing.invoice.paid','user','u1','Alice','project','prj_1','Apollo','[{"type":"billing_account","id":"acct_0","name":"Zoë & Co"},{"type":"project","id":"prj_2","name":"Projekt Über"}]','success',NULL,NULL,1796031000123456789,1796255572298510784,X'3b3f51fb3a3aa67e68e370698bd456b96f99302779d0fca2ecd65da1ea1ee3df',X'e4d97cc566b95b62d0759800b29f41be84fb01d6fd92aa4e7b2b60776555d146',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(32,'06h3jb719b6zwzkrc5pqsp8ctr','acme','billing.invoice.paid','user','u2','Robert','doc','doc_1','Résumé.pdf',NULL,'failure','{"reason":"denied"}',NULL,1796031060123456789,1796255572298709170,X'e4d97cc566b95b62d0759800b29f41be84fb01d6fd92aa4e7b2b60776555d146',X'52e0805ef764b5a8a99dfbb8a0e9df6b0d8fd6cf15fd9de763091414c420377c',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(33,'06h3jb7199kv2y7kx3dq9nm35c','globex','billing.invoice.paid','service','svc_billing','Zoë & Co billing','project','prj_3','Zoë & Co',NULL,'success',NULL,NULL,1796031120123456789,1796255572298886084,X'52e0805ef764b5a8a99dfbb8a0e9df6b0d8fd6cf15fd9de763091414c420377c',X'c95ecf9f7683a5a378d0ce49777cd31c7c56731fc2d31ffb324b6e808f5c3498',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(34,'06h3jb719adyn9c7yewrnstwj4','','member.invite','bot','u1','Deploy bot','doc','doc_2','Plan','[{"type":"billing_account","id":"doc_2","name":"Zoë & Co"}]','success',NULL,NULL,1796031180123456789,1796255572299010099,X'c95ecf9f7683a5a378d0ce49777cd31c7c56731fc2d31ffb324b6e808f5c3498',X'24c9e4e3a8475379ef09cc8de7ef951544b16c75ebb5b1ff9ef06d0c9a09b0e2',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(35,'06h3jb719dh80nyad1mpab9ma8','acme','member.invite','','','','project','prj_2','Projekt Über','[{"type":"billing_account","id":"acct_1","name":"Zoë & Co"},{"type":"project","id":"prj_3","name":"Zoë & Co"}]','success',NULL,NULL,1796031240123456789,1796255572299209927,X'24c9e4e3a8475379ef09cc8de7ef951544b16c75ebb5b1ff9ef06d0c9a09b0e2',X'f119ddf1ee84e15e4805f2773831010db9d0cf07e770fb1ce78f8c9082eca8bf',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(36,'06h3jb719e3jzfzh4bzfa69a5c','globex','member.invite','user','u1','Alice','doc','prj_1','Notes on prj_1',NULL,'success',NULL,NULL,1796031300123456789,1796255572299426260,X'f119ddf1ee84e15e4805f2773831010db9d0cf07e770fb1ce78f8c9082eca8bf',X'c5b4def0b0614b2c989b48ce7d3edda094454836b8630f64f0b7c9dbf46aa425',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(37,'06h3jb719fnd82n6736sx43fa8','','login','user','u2','Robert','project','prj_1','Apollo',NULL,'success','{"note":"naïve café"}','key-36',1796031360123456789,1796255572299592628,X'c5b4def0b0614b2c989b48ce7d3edda094454836b8630f64f0b7c9dbf46aa425',X'91f2264189c5b57d3e0b84decbd20a17ee9afbecedaf051c1a80db6c188bab49',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(38,'06h3jb719fejctnqrz81phwbrm','acme','login','service','svc_billing','Zoë & Co billing','doc','doc_1','Résumé.pdf','[{"type":"billing_account","id":"doc_1","name":"Zoë & Co"}]','success',NULL,NULL,1796031420123456789,1796255572299741831,X'91f2264189c5b57d3e0b84decbd20a17ee9afbecedaf051c1a80db6c188bab49',X'c1d2fa1465482b6717d7e967ea824e6dce94b0aae0a438c853670d2878958224',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(39,'06h3jb719fgax0ad3r6sm6r0s4','globex','login','bot','u1','Deploy bot','project','prj_3','Zoë & Co','[{"type":"billing_account","id":"acct_2","name":"Zoë & Co"},{"type":"project","id":"prj_1","name":"Apollo"}]','failure','{"reason":"denied"}',NULL,1796031480123456789,1796255572299927268,X'c1d2fa1465482b6717d7e967ea824e6dce94b0aae0a438c853670d2878958224',X'b3574b63205f93152010c592bc7d47309e30690e02293877bd4364580a257782',3,NULL,NULL,NULL);
INSERT INTO audit_events VALUES(40,'06h3jb719kgaty0xdvwfbs2034','','project.create','user','u3','Søren Ødegård','doc','doc_2','Plan',NULL,'success',NULL,NULL,1796031540123456789,1796255572300161938,X'b3574b63205f93152010c592bc7d47309e30690e02293877bd4364580a257782',X'd459cfd5a98035e89eb79bda0f4f24d80aed1c77b3cffc108efb581c610cc8c7',3,NULL,NULL,NULL);
CREATE TABLE audit_counts (
    tenant TEXT    NOT NULL,
    kind   TEXT    NOT NULL,
    key    TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (tenant, kind, key)
) WITHOUT ROWID;
INSERT INTO audit_counts VALUES('','action','billing.invoice.paid',2);
INSERT INTO audit_counts VALUES('','action','doc.edit',2);
INSERT INTO audit_counts VALUES('','action','doc.read',2);
INSERT INTO audit_counts VALUES('','action','login',3);
INSERT INTO audit_counts VALUES('','action','member.invite',2);
INSERT INTO audit_counts VALUES('','action','project.create',3);
INSERT INTO audit_counts VALUES('','failure','',2);
INSERT INTO audit_counts VALUES('','target','acct_0',3);
INSERT INTO audit_counts VALUES('','target','prj_2',3);
INSERT INTO audit_counts VALUES('','total','',14);
INSERT INTO audit_counts VALUES('acme','action','billing.invoice.paid',2);
INSERT INTO audit_counts VALUES('acme','action','doc.edit',2);
INSERT INTO audit_counts VALUES('acme','action','doc.read',2);
INSERT INTO audit_counts VALUES('acme','action','login',3);
INSERT INTO audit_counts VALUES('acme','action','member.invite',2);
INSERT INTO audit_counts VALUES('acme','action','project.create',2);
INSERT INTO audit_counts VALUES('acme','failure','',2);
INSERT INTO audit_counts VALUES('acme','target','acct_1',3);
INSERT INTO audit_counts VALUES('acme','target','prj_3',3);
INSERT INTO audit_counts VALUES('acme','total','',13);
INSERT INTO audit_counts VALUES('globex','action','billing.invoice.paid',2);
INSERT INTO audit_counts VALUES('globex','action','doc.edit',2);
INSERT INTO audit_counts VALUES('globex','action','doc.read',2);
INSERT INTO audit_counts VALUES('globex','action','login',3);
INSERT INTO audit_counts VALUES('globex','action','member.invite',2);
INSERT INTO audit_counts VALUES('globex','action','project.create',2);
INSERT INTO audit_counts VALUES('globex','failure','',2);
INSERT INTO audit_counts VALUES('globex','target','acct_2',4);
INSERT INTO audit_counts VALUES('globex','target','prj_1',4);
INSERT INTO audit_counts VALUES('globex','total','',13);
CREATE TABLE audit_action_terms (
    tenant TEXT    NOT NULL,
    term   TEXT    NOT NULL,
    action TEXT    NOT NULL,
    seg    INTEGER NOT NULL,
    PRIMARY KEY (tenant, term, action)
) WITHOUT ROWID;
INSERT INTO audit_action_terms VALUES('','billing.invoice.paid','billing.invoice.paid',0);
INSERT INTO audit_action_terms VALUES('acme','billing.invoice.paid','billing.invoice.paid',0);
INSERT INTO audit_action_terms VALUES('globex','billing.invoice.paid','billing.invoice.paid',0);
INSERT INTO audit_action_terms VALUES('','create','project.create',1);
INSERT INTO audit_action_terms VALUES('acme','create','project.create',1);
INSERT INTO audit_action_terms VALUES('globex','create','project.create',1);
INSERT INTO audit_action_terms VALUES('','doc.edit','doc.edit',0);
INSERT INTO audit_action_terms VALUES('acme','doc.edit','doc.edit',0);
INSERT INTO audit_action_terms VALUES('globex','doc.edit','doc.edit',0);
INSERT INTO audit_action_terms VALUES('','doc.read','doc.read',0);
INSERT INTO audit_action_terms VALUES('acme','doc.read','doc.read',0);
INSERT INTO audit_action_terms VALUES('globex','doc.read','doc.read',0);
INSERT INTO audit_action_terms VALUES('','edit','doc.edit',1);
INSERT INTO audit_action_terms VALUES('acme','edit','doc.edit',1);
INSERT INTO audit_action_terms VALUES('globex','edit','doc.edit',1);
INSERT INTO audit_action_terms VALUES('','invite','member.invite',1);
INSERT INTO audit_action_terms VALUES('acme','invite','member.invite',1);
INSERT INTO audit_action_terms VALUES('globex','invite','member.invite',1);
INSERT INTO audit_action_terms VALUES('','invoice.paid','billing.invoice.paid',1);
INSERT INTO audit_action_terms VALUES('acme','invoice.paid','billing.invoice.paid',1);
INSERT INTO audit_action_terms VALUES('globex','invoice.paid','billing.invoice.paid',1);
INSERT INTO audit_action_terms VALUES('','login','login',0);
INSERT INTO audit_action_terms VALUES('acme','login','login',0);
INSERT INTO audit_action_terms VALUES('globex','login','login',0);
INSERT INTO audit_action_terms VALUES('','member.invite','member.invite',0);
INSERT INTO audit_action_terms VALUES('acme','member.invite','member.invite',0);
INSERT INTO audit_action_terms VALUES('globex','member.invite','member.invite',0);
INSERT INTO audit_action_terms VALUES('','paid','billing.invoice.paid',2);
INSERT INTO audit_action_terms VALUES('acme','paid','billing.invoice.paid',2);
INSERT INTO audit_action_terms VALUES('globex','paid','billing.invoice.paid',2);
INSERT INTO audit_action_terms VALUES('','project.create','project.create',0);
INSERT INTO audit_action_terms VALUES('acme','project.create','project.create',0);
INSERT INTO audit_action_terms VALUES('globex','project.create','project.create',0);
INSERT INTO audit_action_terms VALUES('','read','doc.read',1);
INSERT INTO audit_action_terms VALUES('acme','read','doc.read',1);
INSERT INTO audit_action_terms VALUES('globex','read','doc.read',1);
CREATE TABLE audit_targets (
    tenant TEXT    NOT NULL,
    id     TEXT    NOT NULL,
    type   TEXT    NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (tenant, id, seq, type)
) WITHOUT ROWID;
INSERT INTO audit_targets VALUES('','acct_0','billing_account',7);
INSERT INTO audit_targets VALUES('','acct_0','billing_account',19);
INSERT INTO audit_targets VALUES('','acct_0','billing_account',31);
INSERT INTO audit_targets VALUES('','doc_2','billing_account',10);
INSERT INTO audit_targets VALUES('','doc_2','billing_account',22);
INSERT INTO audit_targets VALUES('','doc_2','billing_account',34);
INSERT INTO audit_targets VALUES('','prj_2','project',7);
INSERT INTO audit_targets VALUES('','prj_2','project',19);
INSERT INTO audit_targets VALUES('','prj_2','project',31);
INSERT INTO audit_targets VALUES('acme','acct_1','billing_account',11);
INSERT INTO audit_targets VALUES('acme','acct_1','billing_account',23);
INSERT INTO audit_targets VALUES('acme','acct_1','billing_account',35);
INSERT INTO audit_targets VALUES('acme','doc_1','billing_account',2);
INSERT INTO audit_targets VALUES('acme','doc_1','billing_account',14);
INSERT INTO audit_targets VALUES('acme','doc_1','billing_account',26);
INSERT INTO audit_targets VALUES('acme','doc_1','billing_account',38);
INSERT INTO audit_targets VALUES('acme','prj_3','project',11);
INSERT INTO audit_targets VALUES('acme','prj_3','project',23);
INSERT INTO audit_targets VALUES('acme','prj_3','project',35);
INSERT INTO audit_targets VALUES('globex','acct_2','billing_account',3);
INSERT INTO audit_targets VALUES('globex','acct_2','billing_account',15);
INSERT INTO audit_targets VALUES('globex','acct_2','billing_account',27);
INSERT INTO audit_targets VALUES('globex','acct_2','billing_account',39);
INSERT INTO audit_targets VALUES('globex','prj_1','project',3);
INSERT INTO audit_targets VALUES('globex','prj_1','billing_account',6);
INSERT INTO audit_targets VALUES('globex','prj_1','project',15);
INSERT INTO audit_targets VALUES('globex','prj_1','billing_account',18);
INSERT INTO audit_targets VALUES('globex','prj_1','project',27);
INSERT INTO audit_targets VALUES('globex','prj_1','billing_account',30);
INSERT INTO audit_targets VALUES('globex','prj_1','project',39);
CREATE TABLE audit_refs (
    tenant  TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    id      TEXT    NOT NULL,
    type    TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    renamed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, kind, id, type)
) WITHOUT ROWID;
INSERT INTO audit_refs VALUES('','actor','','','',1,0);
INSERT INTO audit_refs VALUES('','actor','svc_billing','service','Zoë & Co billing',2,0);
INSERT INTO audit_refs VALUES('','actor','u1','bot','Deploy bot',3,0);
INSERT INTO audit_refs VALUES('','actor','u1','user','Alice',3,0);
INSERT INTO audit_refs VALUES('','actor','u2','user','Robert',3,0);
INSERT INTO audit_refs VALUES('','actor','u3','user','Søren Ødegård',2,0);
INSERT INTO audit_refs VALUES('','resource','doc_2','doc','Plan',7,0);
INSERT INTO audit_refs VALUES('','resource','prj_1','project','Apollo',7,0);
INSERT INTO audit_refs VALUES('','target','acct_0','billing_account','Zoë & Co',3,0);
INSERT INTO audit_refs VALUES('','target','doc_2','billing_account','Zoë & Co',3,0);
INSERT INTO audit_refs VALUES('','target','prj_2','project','Projekt Über',3,0);
INSERT INTO audit_refs VALUES('acme','actor','','','',2,0);
INSERT INTO audit_refs VALUES('acme','actor','svc_billing','service','Zoë & Co billing',3,0);
INSERT INTO audit_refs VALUES('acme','actor','u1','bot','Deploy bot',2,0);
INSERT INTO audit_refs VALUES('acme','actor','u1','user','Alice',2,0);
INSERT INTO audit_refs VALUES('acme','actor','u2','user','Robert',3,1);
INSERT INTO audit_refs VALUES('acme','actor','u3','user','Søren Ødegård',1,0);
INSERT INTO audit_refs VALUES('acme','resource','doc_1','doc','Résumé.pdf',7,0);
INSERT INTO audit_refs VALUES('acme','resource','prj_2','project','Projekt Über',6,0);
INSERT INTO audit_refs VALUES('acme','target','acct_1','billing_account','Zoë & Co',3,0);
INSERT INTO audit_refs VALUES('acme','target','doc_1','billing_account','Zoë & Co',4,0);
INSERT INTO audit_refs VALUES('acme','target','prj_3','project','Zoë & Co',3,0);
INSERT INTO audit_refs VALUES('globex','actor','','','',1,0);
INSERT INTO audit_refs VALUES('globex','actor','svc_billing','service','Zoë & Co billing',3,0);
INSERT INTO audit_refs VALUES('globex','actor','u1','bot','Deploy bot',3,0);
INSERT INTO audit_refs VALUES('globex','actor','u1','user','Alice',3,0);
INSERT INTO audit_refs VALUES('globex','actor','u2','user','Robert',2,1);
INSERT INTO audit_refs VALUES('globex','actor','u3','user','Søren Ødegård',1,0);
INSERT INTO audit_refs VALUES('globex','resource','prj_1','doc','Notes on prj_1',6,0);
INSERT INTO audit_refs VALUES('globex','resource','prj_3','project','Zoë & Co',7,0);
INSERT INTO audit_refs VALUES('globex','target','acct_2','billing_account','Zoë & Co',4,0);
INSERT INTO audit_refs VALUES('globex','target','prj_1','billing_account','Zoë & Co',3,0);
INSERT INTO audit_refs VALUES('globex','target','prj_1','project','Apollo',4,0);
CREATE TABLE audit_ref_terms (
    tenant TEXT NOT NULL,
    term   TEXT NOT NULL,
    kind   TEXT NOT NULL,
    id     TEXT NOT NULL,
    type   TEXT NOT NULL,
    PRIMARY KEY (tenant, term, kind, id, type)
) WITHOUT ROWID;
INSERT INTO audit_ref_terms VALUES('','alice','actor','u1','user');
INSERT INTO audit_ref_terms VALUES('','apollo','resource','prj_1','project');
INSERT INTO audit_ref_terms VALUES('','bob','actor','u2','user');
INSERT INTO audit_ref_terms VALUES('','deploy bot','actor','u1','bot');
INSERT INTO audit_ref_terms VALUES('','plan','resource','doc_2','doc');
INSERT INTO audit_ref_terms VALUES('','projekt über','resource','prj_2','project');
INSERT INTO audit_ref_terms VALUES('','robert','actor','u2','user');
INSERT INTO audit_ref_terms VALUES('','søren ødegård','actor','u3','user');
INSERT INTO audit_ref_terms VALUES('','zoë & co','resource','acct_0','billing_account');
INSERT INTO audit_ref_terms VALUES('','zoë & co','resource','doc_2','billing_account');
INSERT INTO audit_ref_terms VALUES('','zoë & co billing','actor','svc_billing','service');
INSERT INTO audit_ref_terms VALUES('acme','alice','actor','u1','user');
INSERT INTO audit_ref_terms VALUES('acme','bob','actor','u2','user');
INSERT INTO audit_ref_terms VALUES('acme','deploy bot','actor','u1','bot');
INSERT INTO audit_ref_terms VALUES('acme','projekt über','resource','prj_2','project');
INSERT INTO audit_ref_terms VALUES('acme','robert','actor','u2','user');
INSERT INTO audit_ref_terms VALUES('acme','résumé.pdf','resource','doc_1','doc');
INSERT INTO audit_ref_terms VALUES('acme','søren ødegård','actor','u3','user');
INSERT INTO audit_ref_terms VALUES('acme','zoë & co','resource','acct_1','billing_account');
INSERT INTO audit_ref_terms VALUES('acme','zoë & co','resource','doc_1','billing_account');
INSERT INTO audit_ref_terms VALUES('acme','zoë & co','resource','prj_3','project');
INSERT INTO audit_ref_terms VALUES('acme','zoë & co billing','actor','svc_billing','service');
INSERT INTO audit_ref_terms VALUES('globex','alice','actor','u1','user');
INSERT INTO audit_ref_terms VALUES('globex','apollo','resource','prj_1','project');
INSERT INTO audit_ref_terms VALUES('globex','bob','actor','u2','user');
INSERT INTO audit_ref_terms VALUES('globex','deploy bot','actor','u1','bot');
INSERT INTO audit_ref_terms VALUES('globex','notes on prj_1','resource','prj_1','doc');
INSERT INTO audit_ref_terms VALUES('globex','robert','actor','u2','user');
INSERT INTO audit_ref_terms VALUES('globex','søren ødegård','actor','u3','user');
INSERT INTO audit_ref_terms VALUES('globex','zoë & co','resource','acct_2','billing_account');
INSERT INTO audit_ref_terms VALUES('globex','zoë & co','resource','prj_1','billing_account');
INSERT INTO audit_ref_terms VALUES('globex','zoë & co','resource','prj_3','project');
INSERT INTO audit_ref_terms VALUES('globex','zoë & co billing','actor','svc_billing','service');
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
CREATE INDEX audit_counts_key ON audit_counts (kind, key) WHERE tenant <> '';
CREATE INDEX audit_action_terms_term ON audit_action_terms (term, action, seg);
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
  OR typeof(NEW.origin_ip) NOT IN ('null', 'text') OR NEW.origin_ip = ''
  OR typeof(NEW.origin_user_agent) NOT IN ('null', 'text') OR NEW.origin_user_agent = ''
  OR typeof(NEW.origin_request_id) NOT IN ('null', 'text') OR NEW.origin_request_id = ''
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: an insert must take the next seq')
    WHERE NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit_events);
    SELECT RAISE(ABORT, 'audit_events: a column is not in the form the library writes (storage class, or an empty string for NULL)');
END;
CREATE INDEX audit_events_failures ON audit_events (tenant) WHERE outcome = 'failure';
CREATE INDEX audit_events_failures_all ON audit_events (outcome) WHERE outcome = 'failure';
CREATE INDEX audit_refs_key ON audit_refs (kind, id) WHERE tenant <> '';
CREATE INDEX audit_ref_terms_term ON audit_ref_terms (term, kind, id, type) WHERE tenant <> '';
COMMIT;
