/* +++
id = "iam-policy-no-statements-with-admin-access"
title = "Customer managed policies do not allow *:*"
severity = "high"
tags = { identifier = "IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS" }
+++ */
WITH docs AS (
  SELECT arn, awsaccountid, resourcename,
         replace(replace(replace(replace(coalesce(json_format(json_extract(configuration, '$.policyVersionList')), ''),
           '%22', '"'), '%3A', ':'), '%2A', '*'), '%20', '') AS document,
         coalesce(json_extract_scalar(configuration, '$.attachmentCount'), '0') AS attached
  FROM report.config_state WHERE resourcetype = 'AWS::IAM::Policy'
)
SELECT arn AS resource, awsaccountid AS account, 'global' AS region,
       CASE WHEN attached <> '0' AND strpos(document, '"Action":"*"') > 0 AND strpos(document, '"Resource":"*"') > 0 THEN 'alarm' ELSE 'ok' END AS status,
       resourcename || CASE WHEN strpos(document, '"Action":"*"') > 0 AND strpos(document, '"Resource":"*"') > 0 THEN ' allows *:*' ELSE ' allows no *:*' END
         || ' and is attached ' || attached || ' time(s)' AS reason
FROM docs
UNION ALL
SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'skip',
       'AWS::IAM::Policy is not recorded by AWS Config in this lake'
WHERE NOT EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::IAM::Policy')
