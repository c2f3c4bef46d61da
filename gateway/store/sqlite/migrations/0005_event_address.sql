-- The address the subscriber texted (the short code or long number an MO went to), on SMS events, so
-- that a STOP can be traced to the number it was sent to.
ALTER TABLE events ADD COLUMN address TEXT;
