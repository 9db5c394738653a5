
generalr+
general:alice"hi â‚¬ "quoted"
(ûñÆª3