*x1j
general:ûñÆª3