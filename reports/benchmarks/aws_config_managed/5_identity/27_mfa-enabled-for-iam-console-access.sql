/* +++
id = "mfa-enabled-for-iam-console-access"
title = "IAM users sign in to the console with MFA"
severity = "high"
tags = { identifier = "MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS" }
+++ */
WITH users AS (
  SELECT s.arn, s.awsaccountid AS account, s.resourcename AS name,
         json_format(json_extract(s.configuration, '$.attachedManagedPolicies')) AS attached,
         json_array_length(json_extract(s.configuration, '$.attachedManagedPolicies')) AS n_attached,
         json_array_length(json_extract(s.configuration, '$.userPolicyList')) AS n_inline
  FROM report.config_state s WHERE s.resourcetype = 'AWS::IAM::User'
),
logins AS (
  SELECT recipientaccountid AS account, useridentity.username AS name, eventid, eventtime,
         row_number() OVER (PARTITION BY recipientaccountid, useridentity.username ORDER BY eventtime, eventid) AS n,
         count(*) OVER (PARTITION BY recipientaccountid, useridentity.username) AS times
  FROM report.cloudtrail
  WHERE eventname = 'ConsoleLogin' AND useridentity.type = 'IAMUser'
    AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'
    AND json_extract_scalar(additionaleventdata, '$.MFAUsed') = 'No'
)
SELECT u.arn AS resource, u.account, 'global' AS region,
       CASE WHEN l.eventid IS NULL THEN 'ok' ELSE 'alarm' END AS status,
       CASE WHEN l.eventid IS NULL THEN u.name || ' did not sign in to the console without MFA in the period'
            ELSE u.name || ' signed in to the console without MFA ' || CAST(l.times AS VARCHAR) || ' time(s), first at ' || l.eventtime END AS reason,
       l.eventid AS cause_event_id
FROM users u LEFT JOIN logins l ON l.account = u.account AND l.name = u.name AND l.n = 1
