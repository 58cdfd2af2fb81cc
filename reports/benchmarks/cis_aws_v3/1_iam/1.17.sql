/* +++
id = "1.17"
title = "Ensure a support role has been created to manage incidents with AWS Support"
severity = "low"
tags = { cis_v3 = "1.17", level = "1", type = "automated" }
+++ */
WITH accounts AS (SELECT DISTINCT awsaccountid AS account FROM report.config_state),
support AS (
  SELECT awsaccountid AS account, array_join(array_sort(array_agg(resourcename)), ', ') AS roles
  FROM report.config_state
  WHERE resourcetype = 'AWS::IAM::Role'
    AND strpos(json_format(json_extract(configuration, '$.attachedManagedPolicies')), 'policy/AWSSupportAccess') > 0
  GROUP BY awsaccountid
)
SELECT a.account AS resource, a.account, 'global' AS region,
       CASE WHEN s.roles IS NULL THEN 'alarm' ELSE 'ok' END AS status,
       CASE WHEN s.roles IS NULL THEN 'no role has the AWSSupportAccess policy'
            ELSE 'AWSSupportAccess is attached to ' || s.roles END AS reason
FROM accounts a LEFT JOIN support s ON s.account = a.account
