/* +++
id = "1.13"
title = "Ensure there is only one active access key available for any single IAM user"
severity = "medium"
tags = { cis_v3 = "1.13", level = "1", type = "automated" }
+++ */
WITH users AS (
  SELECT s.arn, s.awsaccountid AS account, s.resourcename AS name,
         json_format(json_extract(s.configuration, '$.attachedManagedPolicies')) AS attached,
         json_array_length(json_extract(s.configuration, '$.attachedManagedPolicies')) AS n_attached,
         json_array_length(json_extract(s.configuration, '$.userPolicyList')) AS n_inline
  FROM report.config_state s WHERE s.resourcetype = 'AWS::IAM::User'
),
used AS (
  SELECT DISTINCT recipientaccountid AS account, useridentity.username AS name, useridentity.accesskeyid AS key
  FROM report.cloudtrail
  WHERE useridentity.type = 'IAMUser' AND useridentity.accesskeyid LIKE 'AKIA%'
),
created AS (
  SELECT recipientaccountid AS account, json_extract_scalar(requestparameters, '$.userName') AS name,
         json_extract_scalar(responseelements, '$.accessKey.accessKeyId') AS key, eventid, eventtime
  FROM report.cloudtrail WHERE eventname = 'CreateAccessKey' AND errorcode IS NULL
),
removed AS (
  SELECT recipientaccountid AS account, json_extract_scalar(requestparameters, '$.userName') AS name,
         json_extract_scalar(requestparameters, '$.accessKeyId') AS key
  FROM report.cloudtrail
  WHERE errorcode IS NULL AND eventname IN ('DeleteAccessKey', 'UpdateAccessKey')
    AND (eventname = 'DeleteAccessKey' OR json_extract_scalar(requestparameters, '$.status') = 'Inactive')
),
keys AS (
  SELECT account, name, key FROM used
  UNION SELECT account, name, key FROM created
),
active AS (
  SELECT k.account, k.name, count(*) AS n, array_join(array_sort(array_agg(k.key)), ', ') AS ids
  FROM keys k LEFT JOIN removed r ON r.account = k.account AND r.name = k.name AND r.key = k.key
  WHERE r.key IS NULL GROUP BY k.account, k.name
),
latest AS (
  SELECT account, name, eventid, eventtime,
         row_number() OVER (PARTITION BY account, name ORDER BY eventtime DESC, eventid DESC) AS n
  FROM created
)
SELECT u.arn AS resource, u.account, 'global' AS region,
       CASE WHEN coalesce(a.n, 0) > 1 THEN 'alarm' ELSE 'ok' END AS status,
       u.name || ' has ' || CAST(coalesce(a.n, 0) AS VARCHAR) || ' active access key(s) seen in the period' AS reason,
       CASE WHEN coalesce(a.n, 0) > 1 THEN c.eventid END AS cause_event_id,
       a.ids AS access_keys
FROM users u
LEFT JOIN active a ON a.account = u.account AND a.name = u.name
LEFT JOIN latest c ON c.account = u.account AND c.name = u.name AND c.n = 1
