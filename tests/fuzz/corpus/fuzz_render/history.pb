*w1ªc
general+
general:alice"hi â‚¬ "quoted"
(ûñÆª3+
general:alice"hi â‚¬ "quoted"
(ûñÆª3