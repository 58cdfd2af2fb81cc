/* +++
id = "5.5"
title = "Ensure routing tables for VPC peering are \"least access\""
severity = "low"
tags = { cis_v3 = "5.5", level = "2", type = "manual" }
+++ */
SELECT CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS account,
       CAST(NULL AS VARCHAR) AS region, 'skip' AS status,
       'peering routes need a review against the intended connectivity' AS reason
