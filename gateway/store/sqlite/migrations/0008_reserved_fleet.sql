-- Reserved for helper "fleet"'s 0008 (footer first-seen and confirmation guard): migrations must be
-- numbered without gaps. Delete this file when that branch's 0008 is merged.
SELECT 1;
