/* +++
id = "encrypted-volumes"
title = "Attached EBS volumes are encrypted"
severity = "medium"
tags = { identifier = "ENCRYPTED_VOLUMES" }
+++ */
SELECT arn AS resource, awsaccountid AS account, awsregion AS region,
       CASE WHEN json_extract_scalar(configuration, '$.encrypted') = 'true' THEN 'ok' ELSE 'alarm' END AS status,
       resourceid || CASE WHEN json_extract_scalar(configuration, '$.encrypted') = 'true' THEN ' is encrypted' ELSE ' is not encrypted' END AS reason
FROM report.config_state
WHERE resourcetype = 'AWS::EC2::Volume' AND json_extract_scalar(configuration, '$.state') = 'in-use'
