-- The schema of LlamaBurn's history at schema version 2 (hand-written MIGRATIONS, commit cfb7744),
-- for PostgreSQL, generated from that commit's SQLModel metadata. The upgrade test replays it and
-- loads the rows of history-v2.sqlite into it.

CREATE TABLE model_info (
	key VARCHAR NOT NULL, 
	fetched_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	info JSON, 
	PRIMARY KEY (key)
);

CREATE TABLE runs (
	id VARCHAR NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	modality VARCHAR NOT NULL, 
	backend VARCHAR NOT NULL, 
	model VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	error VARCHAR, 
	config JSON, 
	summary JSON, 
	system JSON, 
	model_info JSON, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_runs_model ON runs (model);

CREATE INDEX ix_runs_created_at ON runs (created_at);

CREATE TABLE schema_version (
	version SERIAL NOT NULL, 
	PRIMARY KEY (version)
);

CREATE TABLE iterations (
	id SERIAL NOT NULL, 
	run_id VARCHAR NOT NULL, 
	index INTEGER NOT NULL, 
	warmup BOOLEAN NOT NULL, 
	prompt VARCHAR NOT NULL, 
	output VARCHAR NOT NULL, 
	metrics JSON, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES runs (id)
);

CREATE INDEX ix_iterations_run_id ON iterations (run_id);

INSERT INTO schema_version (version) VALUES (1), (2);
