-- The views of the database: their current definitions, the only ones.
--
-- A Jinja2 template rendered by store/db.py (`schema_sql`). Every upgrade drops all views
-- and triggers and creates these again, after the table migrations, in the same
-- transaction; so does a writing connect when the rendered text differs from the one the
-- database was given (its hash is in meta, key `schema_objects`). Edit them here: a change
-- needs no migration (one is needed only for what they read: tables, columns, data).
--
-- Parameters: deleted_text (an SQL string literal: the centre's text of a deleted
-- opinion); flat_threads (an SQL list of the platforms whose threads are two levels deep,
-- from core.platforms).

{# One opinion row: a citizen's comment with its derived answer and the staff's case. #}
{% macro opinion_select() %}
    SELECT c.id, c.platform, c.account, c.post_id, c.parent_id, c.author_key, c.text, c.lang,
           c.district, c.category, c.created_at,
           {{ seoul_day_of('c.created_at') }} AS seoul_day,
           c.like_count, c.url,
           c.status,
           k.status AS staff_status, k.department AS assigned_department, k.note AS staff_note,
           a.answer_id, a.first_response_at,
           CAST(round((julianday(a.first_response_at) - julianday(c.created_at)) * 1440)
                AS INTEGER) AS response_minutes,
           c.hidden, k.updated_by AS staff_by, k.updated_at AS staff_at, c.keywords,
           c.crisis, c.restricted, c.restricted_countries, c.restricted_at, c.edited_at,
           c.deleted,
           c.suggested_department, c.suggestion_reason, c.group_id, c.abusive, k.policy
    FROM comments c
    LEFT JOIN answers a ON a.comment_id = c.id
    LEFT JOIN cases k ON k.comment_id = c.id
{%- endmacro %}

-- Every citizen's comment, deleted ones (tombstones) included: the centre keeps a deleted
-- opinion with its status and history.
CREATE VIEW opinion_records AS
{{ opinion_select() }}
    WHERE c.is_official = 0;

-- The opinions: citizens' comments that are not deleted. Status (comments.status, kept by
-- the triggers on answers and cases): the staff's, else 'answered' when `answers` holds an
-- official answer in its thread (derived by Writer.refresh_answers), else 'received'.
CREATE VIEW opinions AS
{{ opinion_select() }}
    WHERE c.is_official = 0 AND c.deleted = 0;

-- The centre's list: an opinion with its account, post and answer; a deleted one shows
-- deleted_text, and a citizen's link falls back to its post's (Instagram comments have
-- none of their own).
CREATE VIEW center AS
    SELECT o.id, o.seoul_day, o.created_at, o.status, o.platform,
           o.account, ac.name AS account_name, ac.field, ac.owner,
           COALESCE(o.assigned_department, ac.department) AS department,
           CASE WHEN o.deleted THEN {{ deleted_text }} ELSE o.text END AS text,
           o.lang, o.district, o.category, COALESCE(o.url, p.url) AS url,
           p.id AS post_id, COALESCE(p.title, p.text) AS post_text, p.url AS post_url,
           ans.text AS answer_text, ans.author_name AS answered_by, o.first_response_at,
           o.response_minutes, o.staff_note,
           o.answer_id,
           (SELECT CASE WHEN max(aa.key = o.account) THEN o.account ELSE min(aa.key) END
            FROM accounts aa
            WHERE aa.platform = ans.platform
              AND (aa.name = ans.author_name OR aa.handle = ans.author_name)) AS answer_account,
           o.staff_status, o.staff_by, o.staff_at, o.parent_id, o.like_count,
           o.restricted, o.restricted_countries, o.deleted,
           o.suggested_department, o.suggestion_reason, o.group_id, o.abusive, o.policy
    FROM opinion_records o
    JOIN accounts ac ON ac.key = o.account
    LEFT JOIN posts p ON p.id = o.post_id
    LEFT JOIN comments ans ON ans.id = o.answer_id;

-- Per Seoul day of writing, platform and account: opinions, answered (the city replied:
-- answered, resolved or reflected; resolved and reflected cases were answered on the way),
-- the answer rate.
CREATE VIEW daily_stats AS
    SELECT seoul_day, platform, account,
           count(*) AS opinions,
           sum(status IN ('answered', 'resolved', 'reflected')) AS answered,
           round(1.0 * sum(status IN ('answered', 'resolved', 'reflected')) / count(*), 3)
               AS answer_rate,
           round(avg(response_minutes), 1) AS avg_response_minutes
    FROM opinions
    GROUP BY seoul_day, platform, account;

-- Per account, whenever written: the three rates of issue #19, each over all its opinions,
-- from center_counts (the opinions: deleted = 0), not every opinion.
--   answer_pct     = answered, resolved or reflected (the city replied) / opinions
--   resolution_pct = resolved or reflected (the matter was dealt with) / opinions
--   reflection_pct = reflected (fed into a policy or measure: cases.policy) / opinions
-- `answered`, `resolved`, `reflected` count each status alone; `open` what is still waiting.
CREATE VIEW reflection AS
    SELECT ac.key AS account, ac.platform, ac.name AS account_name, ac.field, ac.department,
           coalesce(sum(r.n), 0) AS opinions,
           coalesce(sum(r.n * (r.status = 'answered')), 0) AS answered,
           coalesce(sum(r.n * (r.status = 'resolved')), 0) AS resolved,
           coalesce(sum(r.n * (r.status = 'reflected')), 0) AS reflected,
           round(100.0 * sum(r.n * (r.status IN ('answered', 'resolved', 'reflected')))
                 / sum(r.n), 1) AS answer_pct,
           coalesce(sum(r.n * (r.status NOT IN ('answered', 'resolved', 'reflected',
                                                'dismissed'))), 0) AS open,
           coalesce(sum(r.n * (r.status = 'dismissed')), 0) AS dismissed,
           round(100.0 * sum(r.n * (r.status IN ('resolved', 'reflected'))) / sum(r.n), 1)
               AS resolution_pct,
           round(100.0 * sum(r.n * (r.status = 'reflected')) / sum(r.n), 1) AS reflection_pct
    FROM accounts ac
    LEFT JOIN center_counts r ON r.account = ac.key AND r.deleted = 0
    GROUP BY ac.key;

-- The centre's counts as the `center` view's columns name them (store/db.py
-- CENTER_ROLLUPS_DOC): the centre's count and facets read these when what they filter and
-- count are only these columns (center/plugins/smc_center.py), the same figures as a count
-- over `center` (tests hold them equal).
CREATE VIEW center_facets AS
    SELECT r.platform, r.account, ac.field, r.status, NULLIF(r.district, '') AS district,
           NULLIF(r.category, '') AS category, r.deleted, r.n
    FROM center_counts r
    JOIN accounts ac ON ac.key = r.account
    WHERE r.n > 0;

CREATE VIEW center_day_facets AS
    SELECT NULLIF(r.seoul_day, '') AS seoul_day, r.platform, r.account, ac.field, r.status,
           NULLIF(r.category, '') AS category, r.deleted, r.n
    FROM center_days r
    JOIN accounts ac ON ac.key = r.account
    WHERE r.n > 0;

-- The centre's columns that are the opinion's own or its account's, without the joins to
-- answers, cases, posts and the answer: what the centre's count and facets read when the
-- rollups above lack a column they filter (a district with a Seoul day, a lang, a parent),
-- through the indexes on comments (center/plugins/smc_center.py). The same rows as
-- `center` (its other joins are LEFT JOINs on unique keys).
CREATE VIEW center_rows AS
    SELECT c.id, {{ seoul_day_of('c.created_at') }} AS seoul_day, c.created_at, c.status,
           c.platform, c.account, ac.name AS account_name, ac.field, ac.owner, c.lang,
           c.district, c.category, c.parent_id, c.like_count, c.restricted,
           c.restricted_countries, c.deleted
    FROM comments c
    JOIN accounts ac ON ac.key = c.account
    WHERE c.is_official = 0;
