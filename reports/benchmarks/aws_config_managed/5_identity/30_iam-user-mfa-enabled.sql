/* +++
id = "iam-user-mfa-enabled"
title = "IAM users have MFA enabled"
severity = "medium"
tags = { identifier = "IAM_USER_MFA_ENABLED" }
description = """
AWS runs this rule periodically against the IAM API. Config's user items do not record MFA
devices, so the lake decides it from the user's latest evidence in the period: an MFA device
enabled or deactivated for the user, or a console sign-in with or without MFA. A user with no such
event in the period is reported as info."""
+++ */
WITH users AS (
  SELECT s.arn, s.awsaccountid AS account, s.resourcename AS name
  FROM report.config_state s WHERE s.resourcetype = 'AWS::IAM::User'
),
evidence AS (
  SELECT recipientaccountid AS account, eventid, eventtime, eventname,
         CASE WHEN eventname = 'ConsoleLogin' THEN useridentity.username
              ELSE json_extract_scalar(requestparameters, '$.userName') END AS name,
         CASE WHEN eventname = 'EnableMFADevice' THEN 'on'
              WHEN eventname = 'DeactivateMFADevice' THEN 'off'
              WHEN json_extract_scalar(additionaleventdata, '$.MFAUsed') = 'Yes' THEN 'on'
              ELSE 'off' END AS mfa
  FROM report.cloudtrail
  WHERE eventname IN ('EnableMFADevice', 'DeactivateMFADevice', 'ConsoleLogin')
    AND errorcode IS NULL
    AND (eventname <> 'ConsoleLogin'
         OR (useridentity.type = 'IAMUser'
             AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'))
),
latest AS (
  SELECT *, row_number() OVER (PARTITION BY account, name ORDER BY eventtime DESC, eventid DESC) AS n
  FROM evidence
)
SELECT u.arn AS resource, u.account, 'global' AS region,
       CASE WHEN l.mfa = 'off' THEN 'alarm' WHEN l.mfa = 'on' THEN 'ok' ELSE 'info' END AS status,
       CASE WHEN l.eventid IS NULL THEN u.name || ': no MFA device change or console sign-in in the period (Config does not record MFA devices)'
            WHEN l.eventname = 'ConsoleLogin' AND l.mfa = 'on' THEN u.name || ' last signed in to the console with MFA, at ' || l.eventtime
            WHEN l.eventname = 'ConsoleLogin' THEN u.name || ' last signed in to the console without MFA, at ' || l.eventtime
            WHEN l.mfa = 'on' THEN u.name || ': MFA device enabled at ' || l.eventtime
            ELSE u.name || ': MFA device deactivated at ' || l.eventtime END AS reason,
       CASE WHEN l.mfa = 'off' THEN l.eventid END AS cause_event_id,
       l.eventname AS last_evidence, l.eventtime AS last_evidence_time
FROM users u LEFT JOIN latest l ON l.account = u.account AND l.name = u.name AND l.n = 1
