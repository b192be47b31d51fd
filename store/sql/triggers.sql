-- The triggers of the database: their current definitions, the only ones.
--
-- Rendered and (re-)created by store/db.py like views.sql (see there). Migrations run with
-- no trigger in place: a migration that changes what a trigger maintains (the search
-- index, the rollups, erasures) does that work itself.

-- --- search: comments_fts follows comments.tokens (store/search.py) ----------------------
CREATE TRIGGER comments_fts_insert AFTER INSERT ON comments WHEN new.tokens IS NOT NULL
    BEGIN
        INSERT INTO comments_fts (rowid, tokens) VALUES (new.rowid, new.tokens);
    END;

CREATE TRIGGER comments_fts_delete AFTER DELETE ON comments WHEN old.tokens IS NOT NULL
    BEGIN
        INSERT INTO comments_fts (comments_fts, rowid, tokens)
        VALUES ('delete', old.rowid, old.tokens);
    END;

-- Guarded: a re-fetch that leaves the text alone costs no FTS work.
CREATE TRIGGER comments_fts_update AFTER UPDATE OF tokens ON comments
    WHEN old.tokens IS NOT new.tokens
    BEGIN
        INSERT INTO comments_fts (comments_fts, rowid, tokens)
        SELECT 'delete', old.rowid, old.tokens WHERE old.tokens IS NOT NULL;
        INSERT INTO comments_fts (rowid, tokens)
        SELECT new.rowid, new.tokens WHERE new.tokens IS NOT NULL;
    END;

-- --- cases: case_events is append-only -------------------------------------------------
CREATE TRIGGER case_events_append_only_update BEFORE UPDATE ON case_events
    BEGIN
        SELECT RAISE(ABORT, 'case_events is append-only: history is never rewritten');
    END;

CREATE TRIGGER case_events_append_only_delete BEFORE DELETE ON case_events
    BEGIN
        SELECT RAISE(ABORT, 'case_events is append-only: history is never rewritten');
    END;

-- --- edits: an earlier text of a record is kept in `versions` -------------------------
-- when a newer one replaces it (X: under its version id; elsewhere under 'seen:' and when
-- it was last seen). Not for a deletion.
{% macro versions_trigger(table) %}
CREATE TRIGGER {{ table }}_versions AFTER UPDATE OF text, version_id ON {{ table }}
    WHEN (old.text IS NOT new.text OR old.version_id IS NOT new.version_id)
      AND old.text <> '' AND new.deleted = 0
    BEGIN
        -- not OR IGNORE: the upsert that fires this would override it (and abort)
        INSERT INTO versions (id, version, text, created_at, seen_at)
        SELECT old.id, coalesce(old.version_id, 'seen:' || old.last_seen), old.text,
               coalesce(old.edited_at, old.created_at), new.last_seen
        WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.id = old.id
                          AND v.version = coalesce(old.version_id, 'seen:' || old.last_seen));
    END;
{% endmacro %}
{{ versions_trigger("comments") }}
{{ versions_trigger("posts") }}

-- --- deletions: a tombstone keeps id, times, status and case history, not the words ----
-- The platforms' terms and PIPA ask that what an author deleted be removed. Raw and
-- quarantine payloads live in the unmasked file: the writer erases those from the
-- `erasures` queue. (A record that arrives deleted comes without words from the
-- normalizer: an insert trigger that blanked it would run before the search index's own
-- and corrupt it.) Tokens '' rather than NULL: the search index keeps a row without terms
-- for every comment, as its integrity check wants.
CREATE TRIGGER comments_erase_update AFTER UPDATE OF deleted ON comments
    WHEN new.deleted = 1 AND old.deleted = 0
    BEGIN
        UPDATE comments SET text = '', tokens = '', keywords = NULL WHERE rowid = new.rowid;
        DELETE FROM versions WHERE id = new.id;
        INSERT OR IGNORE INTO erasures (id, platform, native_id) VALUES (new.id, new.platform,
                                                                         new.native_id);
    END;

-- --- rollups: per-Seoul-day counts kept in the writing transaction ---------------------
-- What they count: store/db.py ROLLUPS_DOC; recounted from the base tables by
-- `rebuild_rollups`, checked by `rollup_drift` (both in store/db.py).
--
-- The Seoul day of a row; '' (and minutes -1) when SQLite cannot read the time (e.g. a year
-- before 1000): a trigger must never fail the page's transaction.
{% macro seoul_day(r) %}coalesce({{ seoul_day_of(r ~ '.created_at') }}, ''){% endmacro %}
{# Response minutes as the opinions view computes them; -1 when answered after the Seoul day. #}
{% macro minutes(r) -%}
coalesce(CASE WHEN a.first_response_at < {{ seoul_day(r) }} || '{{ day_end }}'
                  THEN CAST(round((julianday(a.first_response_at) - julianday({{ r }}.created_at))
                                  * 1440) AS INTEGER) END, -1)
{%- endmacro %}
{# One opinion's row in opinion_days and keyword_days (keywords: space-joined nouns, turned
   into a JSON array; a value json_each cannot read adds no keywords rather than failing the
   page's transaction), and, unless `answered` is false, its answer's row in answer_days (not
   on insert: answers are derived after their comments are stored, and a deleted comment's
   answers row goes with it). #}
{% macro comment_days(r, s, answered=True) %}
    INSERT INTO opinion_days (seoul_day, platform, account, district, category, lang, crisis,
                              n, untagged, unkeyed)
    SELECT {{ seoul_day(r) }}, {{ r }}.platform, {{ r }}.account, coalesce({{ r }}.district, ''),
           coalesce({{ r }}.category, ''), {{ r }}.lang, coalesce({{ r }}.crisis, ''), {{ s }},
           {{ s }} * ({{ r }}.crisis IS NULL), {{ s }} * ({{ r }}.keywords IS NULL)
    WHERE {{ r }}.is_official = 0 AND {{ r }}.deleted = 0
    ON CONFLICT DO UPDATE SET n = n + excluded.n, untagged = untagged + excluded.untagged,
                              unkeyed = unkeyed + excluded.unkeyed;
    INSERT INTO keyword_days (seoul_day, word, n)
    SELECT {{ seoul_day(r) }}, w.value, {{ s }}
    FROM (SELECT ('["' || replace(replace(replace({{ r }}.keywords, '\', '\\'), '"', '\"'),
                                  ' ', '","') || '"]') AS j) AS k,
         json_each(CASE WHEN json_valid(k.j) THEN k.j ELSE '[]' END) AS w
    WHERE {{ r }}.is_official = 0 AND {{ r }}.deleted = 0 AND {{ r }}.keywords <> ''
      AND w.value <> ''
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
{%- if answered %}
    INSERT INTO answer_days (seoul_day, platform, account, minutes, n)
    SELECT {{ seoul_day(r) }}, {{ r }}.platform, {{ r }}.account, {{ minutes(r) }}, {{ s }}
    FROM answers a
    WHERE a.comment_id = {{ r }}.id AND {{ r }}.is_official = 0 AND {{ r }}.deleted = 0
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
{%- endif %}
{% endmacro %}
{# One answers row's contribution to answer_days. #}
{% macro answer_days(r, s) %}
    INSERT INTO answer_days (seoul_day, platform, account, minutes, n)
    SELECT {{ seoul_day("c") }}, c.platform, c.account, {{ minutes("c") }}, {{ s }}
    FROM (SELECT {{ r }}.first_response_at AS first_response_at) AS a, comments c
    WHERE c.id = {{ r }}.comment_id AND c.is_official = 0 AND c.deleted = 0
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
{% endmacro %}

CREATE TRIGGER comments_days_insert AFTER INSERT ON comments
    WHEN new.is_official = 0 AND new.deleted = 0
    BEGIN
    {{ comment_days("new", 1, answered=False) }}
    END;

CREATE TRIGGER comments_days_delete AFTER DELETE ON comments
    BEGIN
    {{ comment_days("old", -1) }}
    DELETE FROM answers WHERE comment_id = old.id;
    END;

CREATE TRIGGER comments_days_update AFTER UPDATE OF is_official, deleted, created_at,
        platform, account, district, category, lang, crisis, keywords ON comments
    WHEN (old.is_official, old.deleted, old.created_at, old.platform, old.account,
          old.district, old.category, old.lang, old.crisis, old.keywords)
      IS NOT (new.is_official, new.deleted, new.created_at, new.platform, new.account,
              new.district, new.category, new.lang, new.crisis, new.keywords)
    BEGIN
    {{ comment_days("old", -1) }}
    {{ comment_days("new", 1) }}
    END;

CREATE TRIGGER answers_days_insert AFTER INSERT ON answers
    BEGIN
    {{ answer_days("new", 1) }}
    END;

CREATE TRIGGER answers_days_delete AFTER DELETE ON answers
    BEGIN
    {{ answer_days("old", -1) }}
    END;

CREATE TRIGGER answers_days_update AFTER UPDATE OF comment_id, first_response_at ON answers
    BEGIN
    {{ answer_days("old", -1) }}
    {{ answer_days("new", 1) }}
    END;

-- --- the centre: comments.status and its counts, kept in the writing transaction --------
-- An opinion's status: the staff's (cases), else 'answered' when it has a derived answer
-- (answers), else 'received' (the column's default). Set again whenever either changes for
-- it, and on the insert of a comment that has a case or an answer already. The counts:
-- store/db.py CENTER_ROLLUPS_DOC; recounted by `rebuild_rollups`, checked by `rollup_drift`.
{% macro restatus(id) %}
    UPDATE comments
    SET status = coalesce((SELECT k.status FROM cases k WHERE k.comment_id = {{ id }}),
                          CASE WHEN EXISTS (SELECT 1 FROM answers a WHERE a.comment_id = {{ id }})
                               THEN 'answered' ELSE 'received' END)
    WHERE id = {{ id }}
      AND status IS NOT coalesce((SELECT k.status FROM cases k WHERE k.comment_id = {{ id }}),
                                 CASE WHEN EXISTS (SELECT 1 FROM answers a
                                                   WHERE a.comment_id = {{ id }})
                                      THEN 'answered' ELSE 'received' END);
{%- endmacro %}
{% macro center_count(r, s) %}
    INSERT INTO center_counts (platform, account, status, district, category, deleted, n)
    SELECT {{ r }}.platform, {{ r }}.account, {{ r }}.status, coalesce({{ r }}.district, ''),
           coalesce({{ r }}.category, ''), {{ r }}.deleted, {{ s }}
    WHERE {{ r }}.is_official = 0
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO center_days (seoul_day, platform, account, status, category, deleted, n)
    SELECT {{ seoul_day(r) }}, {{ r }}.platform, {{ r }}.account, {{ r }}.status,
           coalesce({{ r }}.category, ''), {{ r }}.deleted, {{ s }}
    WHERE {{ r }}.is_official = 0
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
{%- endmacro %}

-- An answer that arrives (the ingest's answers, one per answered opinion) makes it answered
-- unless staff set its status: restatus in one lookup of cases instead of four.
CREATE TRIGGER answers_status_insert AFTER INSERT ON answers
    BEGIN
    UPDATE comments SET status = 'answered'
    WHERE id = new.comment_id AND status IS NOT 'answered'
      AND NOT EXISTS (SELECT 1 FROM cases k WHERE k.comment_id = new.comment_id);
    END;

CREATE TRIGGER answers_status_delete AFTER DELETE ON answers
    BEGIN
    {{ restatus("old.comment_id") }}
    END;

CREATE TRIGGER answers_status_update AFTER UPDATE OF comment_id ON answers
    WHEN old.comment_id IS NOT new.comment_id
    BEGIN
    {{ restatus("old.comment_id") }}
    {{ restatus("new.comment_id") }}
    END;

CREATE TRIGGER cases_status_insert AFTER INSERT ON cases
    BEGIN
    {{ restatus("new.comment_id") }}
    END;

CREATE TRIGGER cases_status_delete AFTER DELETE ON cases
    BEGIN
    {{ restatus("old.comment_id") }}
    END;

CREATE TRIGGER cases_status_update AFTER UPDATE OF comment_id, status ON cases
    WHEN (old.comment_id, old.status) IS NOT (new.comment_id, new.status)
    BEGIN
    {{ restatus("old.comment_id") }}
    {{ restatus("new.comment_id") }}
    END;

-- A comment stored again after its row was deleted keeps the case staff recorded for it.
CREATE TRIGGER comments_status_insert AFTER INSERT ON comments
    WHEN EXISTS (SELECT 1 FROM cases k WHERE k.comment_id = new.id)
      OR EXISTS (SELECT 1 FROM answers a WHERE a.comment_id = new.id)
    BEGIN
    {{ restatus("new.id") }}
    END;

CREATE TRIGGER comments_center_insert AFTER INSERT ON comments WHEN new.is_official = 0
    BEGIN
    {{ center_count("new", 1) }}
    END;

CREATE TRIGGER comments_center_delete AFTER DELETE ON comments WHEN old.is_official = 0
    BEGIN
    {{ center_count("old", -1) }}
    END;

CREATE TRIGGER comments_center_update AFTER UPDATE OF is_official, deleted, created_at,
        platform, account, district, category, status ON comments
    WHEN (old.is_official, old.deleted, old.created_at, old.platform, old.account,
          old.district, old.category, old.status)
      IS NOT (new.is_official, new.deleted, new.created_at, new.platform, new.account,
              new.district, new.category, new.status)
    BEGIN
    {{ center_count("old", -1) }}
    {{ center_count("new", 1) }}
    END;
