/* +++
id = "1.18"
title = "Ensure IAM instance roles are used for AWS resource access from instances"
severity = "medium"
tags = { cis_v3 = "1.18", level = "2", type = "automated" }
+++ */
SELECT arn AS resource, awsaccountid AS account, awsregion AS region,
       CASE WHEN json_extract_scalar(configuration, '$.iamInstanceProfile.arn') IS NULL THEN 'alarm' ELSE 'ok' END AS status,
       CASE WHEN json_extract_scalar(configuration, '$.iamInstanceProfile.arn') IS NULL THEN resourceid || ' has no instance profile'
            ELSE resourceid || ' uses ' || json_extract_scalar(configuration, '$.iamInstanceProfile.arn') END AS reason
FROM report.config_state WHERE resourcetype = 'AWS::EC2::Instance'
