/* +++
id = "ec2-instance-profile-attached"
title = "Instances have an IAM instance profile"
severity = "low"
tags = { identifier = "EC2_INSTANCE_PROFILE_ATTACHED" }
+++ */
SELECT arn AS resource, awsaccountid AS account, awsregion AS region,
       CASE WHEN json_extract_scalar(configuration, '$.iamInstanceProfile.arn') IS NULL THEN 'alarm' ELSE 'ok' END AS status,
       CASE WHEN json_extract_scalar(configuration, '$.iamInstanceProfile.arn') IS NULL THEN resourceid || ' has no instance profile'
            ELSE resourceid || ' uses ' || json_extract_scalar(configuration, '$.iamInstanceProfile.arn') END AS reason
FROM report.config_state WHERE resourcetype = 'AWS::EC2::Instance'
