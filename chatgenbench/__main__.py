from chatgenbench.cli import main

raise SystemExit(main())
