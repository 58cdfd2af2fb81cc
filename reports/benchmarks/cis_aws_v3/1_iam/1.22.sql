/* +++
id = "1.22"
title = "Ensure access to AWSCloudShellFullAccess is restricted"
severity = "medium"
tags = { cis_v3 = "1.22", level = "1", type = "manual" }
+++ */
WITH accounts AS (SELECT DISTINCT awsaccountid AS account FROM report.config_state),
holders AS (
  SELECT awsaccountid AS account, array_join(array_sort(array_agg(resourcename)), ', ') AS names
  FROM report.config_state
  WHERE resourcetype IN ('AWS::IAM::User', 'AWS::IAM::Role', 'AWS::IAM::Group')
    AND strpos(json_format(json_extract(configuration, '$.attachedManagedPolicies')), 'policy/AWSCloudShellFullAccess') > 0
  GROUP BY awsaccountid
)
SELECT a.account AS resource, a.account, 'global' AS region,
       CASE WHEN h.names IS NULL THEN 'ok' ELSE 'alarm' END AS status,
       CASE WHEN h.names IS NULL THEN 'no user, group or role has AWSCloudShellFullAccess'
            ELSE 'AWSCloudShellFullAccess is attached to ' || h.names END AS reason
FROM accounts a LEFT JOIN holders h ON h.account = a.account
