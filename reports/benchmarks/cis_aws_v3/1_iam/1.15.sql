/* +++
id = "1.15"
title = "Ensure IAM Users Receive Permissions Only Through Groups"
severity = "medium"
tags = { cis_v3 = "1.15", level = "1", type = "automated" }
+++ */
WITH users AS (
  SELECT s.arn, s.awsaccountid AS account, s.resourcename AS name,
         json_format(json_extract(s.configuration, '$.attachedManagedPolicies')) AS attached,
         json_array_length(json_extract(s.configuration, '$.attachedManagedPolicies')) AS n_attached,
         json_array_length(json_extract(s.configuration, '$.userPolicyList')) AS n_inline
  FROM report.config_state s WHERE s.resourcetype = 'AWS::IAM::User'
)
SELECT arn AS resource, account, 'global' AS region,
       CASE WHEN coalesce(n_attached, 0) + coalesce(n_inline, 0) = 0 THEN 'ok' ELSE 'alarm' END AS status,
       CASE WHEN coalesce(n_attached, 0) + coalesce(n_inline, 0) = 0 THEN name || ' gets its permissions through groups only'
            ELSE name || ' has ' || CAST(coalesce(n_attached, 0) AS VARCHAR) || ' managed and ' || CAST(coalesce(n_inline, 0) AS VARCHAR) || ' inline policies of its own' END AS reason,
       attached AS attached_policies
FROM users
