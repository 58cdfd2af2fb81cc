/* +++
id = "1.6"
title = "Ensure hardware MFA is enabled for the 'root' user account"
severity = "medium"
tags = { cis_v3 = "1.6", level = "2", type = "manual" }
+++ */
SELECT CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS account,
       CAST(NULL AS VARCHAR) AS region, 'skip' AS status,
       'the kind of the root MFA device is only listed by the IAM API (ListVirtualMFADevices)' AS reason
